# Copyright (c) mmext contributors. All rights reserved.
"""Predict the depth map of every test view and fuse each scan into a
point cloud.

Usage::

    python tools/mvs/fuse_depths.py CONFIG CHECKPOINT --out DIR \\
        [--overwrite] [--device cpu] [--no-depths] \\
        [--confidence 0.8] [--num-consistent 3] [--reprojection-error 1.0] \\
        [--relative-depth-error 0.01] [--max-sources 10] \\
        [--cfg-options KEY=VALUE ...]

The config's ``test_dataloader.dataset`` (one item per reference view,
e.g. ``mmext.DTUMVSDataset`` with ``split='test'``) is built, the model
(:func:`mmext.apis.init_model`) runs on every item, and each scan's
finest depth maps are fused by geometric consistency
(:func:`mmext.mvs.fuse_scan`: the photometric mask ``confidence >
--confidence``; at least ``--num-consistent`` of the first
``--max-sources`` source views of ``pair.txt`` agree within
``--reprojection-error`` pixels and ``--relative-depth-error``). This is
the pure-Python fusion carried by CVP-MVSNet's ``eval.py`` (Yang et al.,
CVPR 2020, public repository JiayuYANG/CVP-MVSNet).

Output, in DTU's naming (Aanaes et al., IJCV 2016), for
``tools/mvs/eval_point_clouds.py`` or DTU's MATLAB evaluation::

    DIR/cvpmvsnet{N:03d}_l3.ply            fused points (scan N), RGB
    DIR/depths/{scan}/{view:08d}.pfm       finest depth maps
    DIR/confidence/{scan}/{view:08d}.pfm   their confidence

Scans are predicted and fused one at a time and a summary line is printed
for each (points kept, fraction of all pixels kept). Existing outputs of
the same scans are refused (exit status 1) before anything runs, unless
``--overwrite``; every file is written atomically.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmext.utils.cli import add_model_arguments
    parser = argparse.ArgumentParser(
        description='Predict every test view and fuse each scan into '
        'DTU-named point clouds')
    add_model_arguments(parser)
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace outputs of earlier runs')
    parser.add_argument('--no-depths', action='store_true',
                        help='do not write the PFM depth/confidence maps')
    parser.add_argument('--confidence', type=float, default=0.8,
                        help='photometric mask: confidence > this')
    parser.add_argument('--num-consistent', type=int, default=3,
                        help='source views that must agree')
    parser.add_argument('--reprojection-error', type=float, default=1.0,
                        help='pixels')
    parser.add_argument('--relative-depth-error', type=float, default=0.01)
    parser.add_argument('--max-sources', type=int, default=10,
                        help='source views of pair.txt checked per view')
    parser.add_argument('--method', default='cvpmvsnet',
                        help='method part of the PLY names')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def fusion_kwargs(args: argparse.Namespace) -> dict:
    """The :func:`mmext.mvs.fuse_scan` arguments of the command line."""
    return dict(
        confidence_threshold=args.confidence,
        num_consistent=args.num_consistent,
        max_reprojection_error=args.reprojection_error,
        max_relative_depth_error=args.relative_depth_error,
        max_sources=args.max_sources)


def run(model, dataset, args: argparse.Namespace) -> List[dict]:
    """Predict, fuse and write every scan of ``dataset``; print a summary.

    ``dataset`` yields items with ``meta=dict(scan, view)`` and has
    ``scans`` and ``pairs`` (:class:`mmext.DTUMVSDataset`).

    Returns:
        list[dict]: One summary per scan (:func:`mmext.mvs.fuse_and_save`).
    """
    from mmext.mvs import check_outputs, fuse_and_save, iter_scan_views
    check_outputs(args.out, dataset.scans, overwrite=args.overwrite,
                  method=args.method)
    summaries = []
    for scan, views in iter_scan_views(model, dataset,
                                       progress=not args.no_progress):
        summary = fuse_and_save(
            scan, views, dataset.pairs, args.out,
            overwrite=args.overwrite, save_depths=not args.no_depths,
            method=args.method, **fusion_kwargs(args))
        print(f'{scan}: {summary["num_points"]} points from '
              f'{len(views)} views, {100 * summary["kept_fraction"]:.1f}% '
              f'of pixels kept -> {summary["file"]}')
        summaries.append(summary)
    total = sum(s['num_points'] for s in summaries)
    print(f'{len(summaries)} scans, {total} points')
    return summaries


def main(argv: Optional[List[str]] = None) -> int:
    from mmext.utils.cli import run_on_test_set
    return run_on_test_set(
        run, parse_args(argv),
        errors=(FileExistsError, FileNotFoundError, ValueError, KeyError))


if __name__ == '__main__':
    sys.exit(main())
