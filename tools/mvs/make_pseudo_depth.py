# Copyright (c) mmext contributors. All rights reserved.
"""Pseudo depth labels of the training scans from a trained CVP-MVSNet.

Usage::

    python tools/mvs/make_pseudo_depth.py CONFIG CHECKPOINT --out DIR \\
        [--round N] [--device cpu] [--no-progress] \\
        [--cfg-options KEY=VALUE ...] [--launcher pytorch]

CONFIG is a self-training config (its ``pseudo_label`` section names the
high-resolution training images, the training data the labels are for and
the thresholds; see :mod:`mmext.mvs.self_training`). The network predicts
every view, confident consistent depths are fused, a screened Poisson
surface is reconstructed and trimmed, and the surface is ray cast at the
training cameras (:mod:`mmext.mvs.pseudo_depth`; Yang, Alvarez, Liu,
CVPR 2021, arXiv:2104.02972, Sec. 3.3). The labels go to
``DIR/round{N}/Depths/{scan}_train/depth_map_{view:04d}.pfm`` (train with
``train_dataloader.dataset.depth_root=DIR/round{N}``), beside the fused
points, meshes and ``summary.json`` (coverage, and the labels' error where
the training data have ground truth). ``--round`` defaults to the next
round (or the unfinished last one, which continues); a finished round is
never overwritten. Under ``--launcher pytorch`` the scans are split between
the processes.

Needs pymeshlab (``pip install pymeshlab``) for the surface reconstruction.
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmext.utils.cli import (add_cfg_options_argument,
                                 add_launcher_arguments, export_local_rank)
    parser = argparse.ArgumentParser(
        description='Pseudo depth labels of the training scans')
    parser.add_argument('config', help='self-training config')
    parser.add_argument('checkpoint', help='the network\'s weights')
    parser.add_argument('--out', required=True,
                        help='folder of the rounds (round{N}/ inside)')
    parser.add_argument('--round', type=int, default=None,
                        help='round number (default: the next one)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-progress', action='store_true')
    add_cfg_options_argument(parser)
    add_launcher_arguments(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def label(cfg, args: argparse.Namespace) -> None:
    """One round with the parsed arguments; prints its summary."""
    from mmext.mvs.self_training import next_round, pseudo_label_round
    from mmext.utils.cpu_dist import setup_cpu_distributed
    setup_cpu_distributed(cfg)
    if args.round is not None and args.round < 1:
        raise ValueError(f'--round {args.round}: rounds count from 1')
    number = args.round or next_round(args.out)
    round_dir = osp.join(args.out, f'round{number}')
    summary = pseudo_label_round(cfg, args.checkpoint, round_dir,
                                 args.device, progress=not args.no_progress)
    if summary is not None:
        shown = {k: v for k, v in summary.items() if k != 'scans'}
        print(f'round {number}: {round_dir}')
        print(json.dumps(shown, indent=1))


def main(argv: Optional[List[str]] = None) -> int:
    import mmext  # noqa: F401  (registries)
    from mmext.utils.cli import run_config_tool
    args = parse_args(argv)
    return run_config_tool(args, lambda cfg: label(cfg, args))


if __name__ == '__main__':
    sys.exit(main())
