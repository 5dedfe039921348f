"""Convert SegFormer / MiT checkpoints of NVlabs or mmseg 1.x to mmext.

Examples::

    # the authors' ImageNet-1K encoder (mit_b0.pth) -> backbone-only file
    python tools/model_converters/segformer2mmext.py mit_b0.pth \
        pretrain/mit_b0_mmext.pth --src official
    # the authors' trained segmentor (backbone and decode head)
    python tools/model_converters/segformer2mmext.py \
        segformer.b0.512x512.ade.160k.pth b0_ade_mmext.pth --src official
    # mmseg 1.x encoder or segmentor checkpoint (backbone only: mmseg's head
    # is a different function)
    python tools/model_converters/segformer2mmext.py \
        mit_b0_20220624-7e0fe6dd.pth pretrain/mit_b0_mmext.pth --src mmseg

The output is ``{'state_dict': ...}`` of the same kind as the input (bare
encoder, or a segmentor with ``backbone.`` / ``decode_head.`` prefixes). It
is checked against an mmext model of the sizes the weights imply, so it
loads with ``mmengine.runner.load_checkpoint(model, DST, strict=True)``;
keys the converter does not understand, and keys the model needs but the
file lacks, are errors that list them. The file is written atomically.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Set

import torch

from mmext.models.seg.segformer_convert import (SOURCES, StateDict,
                                                 convert_segformer,
                                                 unwrap_state_dict)
from mmext.utils.atomic import atomic_torch_save


def infer_encoder(state: StateDict) -> torch.nn.Module:
    """An mmext MiT with the stage widths and depths of ``state``."""
    from mmext.models.seg import MixTransformer
    dims: List[int] = []
    depths: List[int] = []
    for i in range(4):
        key = f'stages.{i}.patch_embed.proj.weight'
        if key not in state:
            break
        dims.append(state[key].shape[0])
        blocks = {int(k.split('.')[3]) for k in state
                  if k.startswith(f'stages.{i}.blocks.')}
        depths.append(max(blocks) + 1 if blocks else 0)
    if not dims:
        raise KeyError('no patch embedding weights '
                       '(stages.0.patch_embed.proj.weight) after conversion')
    sr_ratios = []
    for i in range(len(dims)):
        sr = state.get(f'stages.{i}.blocks.0.attn.sr.weight')
        sr_ratios.append(sr.shape[-1] if sr is not None else 1)
    hidden = state['stages.0.blocks.0.ffn.fc1.weight'].shape[0]
    # Head counts do not change any key or shape: one head per stage.
    return MixTransformer(dims, depths, [1] * len(dims), sr_ratios,
                          mlp_ratio=hidden / dims[0],
                          in_channels=state['stages.0.patch_embed.proj.'
                                            'weight'].shape[1])


def expected_keys(state: StateDict) -> Set[str]:
    """State-dict keys of the mmext model the converted ``state`` implies."""
    segmentor = any(k.startswith('backbone.') for k in state)
    if not segmentor:
        return set(infer_encoder(state).state_dict())
    backbone = {k[len('backbone.'):]: v for k, v in state.items()
                if k.startswith('backbone.')}
    encoder = infer_encoder(backbone)
    keys = {'backbone.' + k for k in encoder.state_dict()}
    if any(k.startswith('decode_head.') for k in state):
        # The head's keys depend only on its number of levels (one per
        # encoder stage); widths and class count are placeholders.
        from mmext.models.seg import SegFormerHead
        head = SegFormerHead(in_channels=encoder.embed_dims, channels=1,
                             num_classes=3, norm_cfg=dict(type='BN'))
        keys |= {'decode_head.' + k for k in head.state_dict()}
    return keys


def convert_file(src_path: str, dst_path: str, src: str) -> Dict[str, list]:
    """Convert ``src_path`` and write ``dst_path``.

    Returns:
        dict: ``dropped`` source keys (intentionally not converted).

    Raises:
        KeyError: Unknown source keys or missing model keys (listed).
    """
    checkpoint = torch.load(src_path, map_location='cpu', weights_only=True)
    result = convert_segformer(unwrap_state_dict(checkpoint), src)
    missing = sorted(expected_keys(result) - set(result))
    if missing:
        raise KeyError(f'{len(missing)} key(s) the mmext model needs are '
                       f'missing from {src_path}: {missing}')
    atomic_torch_save({'state_dict': dict(result)}, dst_path)
    return {'dropped': result.dropped}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert NVlabs or mmseg 1.x SegFormer/MiT checkpoints '
        "to mmext's layout.")
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--src', dest='source', required=True,
                        choices=SOURCES,
                        help='official: NVlabs/SegFormer; mmseg: mmseg 1.x')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'src: no such file {args.src!r}', file=sys.stderr)
        return 2
    try:
        info = convert_file(args.src, args.dst, args.source)
    except KeyError as err:
        print(f'error: {err.args[0]}', file=sys.stderr)
        return 1
    if info['dropped']:
        print(f'not converted ({len(info["dropped"])} keys; ImageNet '
              f'classifier or mmseg decode head): '
              f'{sorted({k.rsplit(".", 1)[0] for k in info["dropped"]})}')
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
