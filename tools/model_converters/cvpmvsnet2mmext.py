"""Convert a checkpoint of the released CVP-MVSNet code to mmext.

Example::

    python tools/model_converters/cvpmvsnet2mmext.py \
        model_000027.ckpt checkpoints/cvp-mvsnet_dtu_mmext.pth

SRC is the released code's ``torch.save`` output (``{'epoch', 'model':
state_dict, 'optimizer'}``; a bare state dict is accepted too) of the
public repository JiayuYANG/CVP-MVSNet. DST is ``{'state_dict', 'meta'}``
for :class:`mmext.CVPMVSNet`: it loads with
``mmengine.runner.load_checkpoint(model, DST, strict=True)`` and through
``tools/test.py``. Set ``reference_quirks=True`` in the model config to get
the released code's outputs (see ``mmext.models.mvs.CVPMVSNetCore``).

Keys the converter does not understand and model keys the file does not
fill are errors that list them (exit status 1); DST is written atomically
and an existing DST is kept unless ``--overwrite`` is given.
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import List, Optional

import torch

from mmext.models.mvs.convert import (REFERENCE_SOURCE,
                                      convert_reference_state_dict,
                                      unwrap_checkpoint)
from mmext.utils.atomic import atomic_torch_save


def convert_file(src_path: str, dst_path: str) -> int:
    """Convert ``src_path`` and write ``dst_path``; returns the number of
    tensors written.

    Raises:
        KeyError: Unknown, missing or mis-shaped keys (listed).
    """
    checkpoint = torch.load(src_path, map_location='cpu', weights_only=True)
    state_dict = convert_reference_state_dict(unwrap_checkpoint(checkpoint))
    meta = dict(converted_from=REFERENCE_SOURCE,
                source_file=osp.basename(src_path),
                model='mmext.CVPMVSNet',
                note='use reference_quirks=True for the released outputs')
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('epoch'),
                                                   int):
        meta['source_epoch'] = checkpoint['epoch']
    atomic_torch_save({'state_dict': state_dict, 'meta': meta}, dst_path)
    return len(state_dict)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a released CVP-MVSNet checkpoint '
        f'({REFERENCE_SOURCE}) to mmext.CVPMVSNet.')
    parser.add_argument('src', help='released checkpoint (e.g. '
                        'model_000027.ckpt)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace DST if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'src: no such file {args.src!r}', file=sys.stderr)
        return 2
    if osp.exists(args.dst) and not args.overwrite:
        print(f'dst: {args.dst!r} exists; pass --overwrite to replace it',
              file=sys.stderr)
        return 1
    try:
        count = convert_file(args.src, args.dst)
    except KeyError as err:
        print(f'error: {err.args[0]}', file=sys.stderr)
        return 1
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        print(f'src: {args.src!r} is not a readable PyTorch checkpoint of '
              f'tensors ({type(err).__name__}: {err})', file=sys.stderr)
        return 1
    print(f'wrote {args.dst} ({count} tensors)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
