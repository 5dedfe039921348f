"""Convert the official Panoptic SegFormer checkpoints to mmext.

Panoptic SegFormer: Li et al., CVPR 2022 (arXiv 2109.03814). The released
files of zhiqi-li/Panoptic-SegFormer (mmdet 2.12 names; layout read from
commit cdb9b68059e9ef825a3f7079c37aa835b1711227, see
:mod:`mmext.models.det.panoptic_segformer.convert`)::

    python tools/model_converters/panoptic_segformer2mmext.py \
        panoptic_segformer_r50_2x.pth pretrain/panoptic_segformer_r50_2x.pth
    # other backbone depths: give an mmext config of the same model
    python tools/model_converters/panoptic_segformer2mmext.py \
        panoptic_segformer_r101_2x.pth r101.pth --config my_r101_config.py

SRC is a checkpoint with ``state_dict`` (or ``model``) or a bare state dict,
read with ``torch.load(weights_only=True)``. The converted dict is checked
key by key and shape by shape against the mmext model built from
``--config`` (default: ``configs/_base_/models/panoptic-segformer_r50.py``),
so DST loads with ``mmengine.runner.load_checkpoint(model, DST,
strict=True)``. DST is ``{'state_dict': ...}``, written atomically. Keys the
converter does not understand and keys the model needs but SRC lacks are
errors that list them; the mask decoder's unused box/class branches
(``reg_branches2``, ``cls_thing_branches``) are dropped with a note.
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import Dict, List, Optional

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO, 'configs', '_base_', 'models',
                          'panoptic-segformer_r50.py')


def model_state(config: str) -> Dict[str, torch.Tensor]:
    """State dict of the mmext model in ``config`` (``model`` field, built
    in the mmdet scope by :func:`mmext.apis.init_model`), the key and shape
    template the converted weights must fit."""
    from mmext.apis import init_model
    return init_model(
        config, cfg_options=dict(default_scope='mmdet')).state_dict()


def convert_file(src_path: str, dst_path: str,
                 config: str = DEFAULT_CONFIG) -> int:
    """Convert ``src_path`` and write ``dst_path`` atomically.

    Returns:
        int: Number of tensors written.

    Raises:
        KeyError: Unknown source keys, or keys missing for the model.
        ValueError: Shapes that differ from the model's.
    """
    from mmext.models.det.panoptic_segformer.convert import (
        check_converted, convert_official_state_dict)
    from mmext.models.seg.segformer_convert import unwrap_state_dict
    from mmext.utils.atomic import atomic_torch_save

    checkpoint = torch.load(src_path, map_location='cpu', weights_only=True)
    # unknown keys fail before the (slower) model build
    state = convert_official_state_dict(unwrap_state_dict(checkpoint))
    check_converted(state, model_state(config))
    atomic_torch_save({'state_dict': state}, dst_path)
    return len(state)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official Panoptic SegFormer checkpoint '
        '(zhiqi-li/Panoptic-SegFormer, mmdet 2.x) to mmext.')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--config', default=DEFAULT_CONFIG,
        help='mmext config whose model the result must fit (default: the '
        'R-50 model config)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for name in ('src', 'config'):
        if not osp.isfile(getattr(args, name)):
            print(f'{name}: no such file {getattr(args, name)!r}',
                  file=sys.stderr)
            return 2
    try:
        count = convert_file(args.src, args.dst, args.config)
    except (KeyError, ValueError) as err:
        print(f'error: {err.args[0]}', file=sys.stderr)
        return 1
    except pickle.UnpicklingError as err:
        print(f'error: {args.src} holds objects torch.load(weights_only=True) '
              f'refuses ({err}); keep only its tensors (state_dict) in a '
              'trusted copy and convert that', file=sys.stderr)
        return 1
    print(f'wrote {args.dst} ({count} tensors)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
