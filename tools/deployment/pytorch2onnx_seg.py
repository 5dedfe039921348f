#!/usr/bin/env python
"""Export an mmseg segmentor (e.g. SegFormer) to ONNX.

Usage::

    python tools/deployment/pytorch2onnx_seg.py CONFIG [CHECKPOINT] OUT.onnx
        [--shape H W] [--opset N] [--cfg-options k=v ...] [--verify]
        [--atol A]

The graph maps a normalised image batch [B, 3, H, W] (``img``) to logits
[B, num_classes, H, W] (``logits``), with dynamic B, H and W. Normalisation
(the config's ``data_preprocessor`` mean/std and channel order) is not in
the graph; it is stored in the ONNX metadata. Without CHECKPOINT the
weights are random (for testing the export only).

``--verify`` runs ONNX Runtime at the export size and at a second,
non-square size with batch 2 and prints the largest absolute difference to
PyTorch; the exit status is 1 if it exceeds ``--atol`` (default 1e-3).
Errors exit with status 1 and a message naming the argument; bad arguments
exit with status 2.
"""
import argparse
import sys
from typing import List, Optional

import mmext  # noqa: F401  (checkpoint globals, registries)
from mmext.deployment.onnx_seg import (DEFAULT_ATOL, DEFAULT_OPSET,
                                       SegmentorLogits, build_segmentor,
                                       export_onnx, preprocess_metadata,
                                       verification_shapes, verify_onnx)
from mmext.utils.cli import add_cfg_options_argument, load_cfg

DEFAULT_SHAPE = (512, 512)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line; ``args.checkpoint`` is None if not given."""
    parser = argparse.ArgumentParser(
        description='Export an mmseg segmentor to ONNX (dynamic batch, '
        'height and width)',
        usage='%(prog)s CONFIG [CHECKPOINT] OUT.onnx [options]')
    parser.add_argument('config', help='mmseg-scope config file')
    parser.add_argument('files', nargs='+', metavar='[CHECKPOINT] OUT.onnx',
                        help='checkpoint (optional: random weights without '
                        'it) and the output .onnx file')
    parser.add_argument(
        '--shape', nargs=2, type=int, metavar=('H', 'W'),
        help='input size traced at export (and verified); defaults to the '
        f"config's crop_size, else {DEFAULT_SHAPE[0]} {DEFAULT_SHAPE[1]}")
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help=f'ONNX opset (default {DEFAULT_OPSET})')
    parser.add_argument('--verify', action='store_true',
                        help='compare ONNX Runtime with PyTorch at two sizes')
    parser.add_argument('--atol', type=float, default=DEFAULT_ATOL,
                        help='largest accepted |ONNX - PyTorch| with '
                        f'--verify (default {DEFAULT_ATOL})')
    add_cfg_options_argument(parser)
    # load_cfg also resolves a launcher and work dir, unused here.
    parser.set_defaults(launcher='none', work_dir=None)
    args = parser.parse_args(argv)
    if len(args.files) > 2:
        parser.error(f'expected [CHECKPOINT] OUT.onnx after CONFIG, got '
                     f'{len(args.files)} paths: {args.files}')
    args.checkpoint = args.files[0] if len(args.files) == 2 else None
    args.out = args.files[-1]
    if not args.out.endswith('.onnx'):
        parser.error(f'OUT.onnx: the output must end in .onnx, got '
                     f'{args.out!r} (usage: CONFIG [CHECKPOINT] OUT.onnx)')
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape: H and W must be positive, got {args.shape}')
    return args


def export_shape(cfg, args: argparse.Namespace) -> tuple:
    """``--shape``, else the config's ``crop_size``, else 512 x 512."""
    if args.shape is not None:
        return tuple(args.shape)
    crop = cfg.get('crop_size', None)
    if isinstance(crop, (list, tuple)) and len(crop) == 2:
        return tuple(int(v) for v in crop)
    return DEFAULT_SHAPE


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        cfg = load_cfg(args)
        model = build_segmentor(cfg, args.checkpoint)
        wrapper = SegmentorLogits(model).eval()
        shape = export_shape(cfg, args)
        if args.checkpoint is None:
            print('warning: no CHECKPOINT given; exporting random weights',
                  file=sys.stderr)
        export_onnx(wrapper, args.out, shape=shape, opset=args.opset,
                    metadata=preprocess_metadata(cfg, model))
        print(f'exported {args.out} (opset {args.opset}, traced at '
              f'{shape[0]}x{shape[1]}; dynamic batch, height, width)')
        if args.verify:
            results = verify_onnx(wrapper, args.out,
                                  verification_shapes(*shape),
                                  atol=args.atol)
            for res in results:
                print(f'verify input {list(res.shape)}: max abs diff '
                      f'{res.max_abs_diff:.3e} '
                      f"({'ok' if res.passed else 'FAIL'}, atol "
                      f'{res.atol:g})')
            if not all(res.passed for res in results):
                print('error: ONNX Runtime output differs from PyTorch by '
                      f'more than --atol {args.atol:g}', file=sys.stderr)
                return 1
    except (FileNotFoundError, ImportError, RuntimeError,
            ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
