# Copyright (c) mmext contributors. All rights reserved.
"""The whole self-supervised CVP-MVSNet pipeline in one command.

Usage::

    python tools/mvs/self_train.py CONFIG --work-dir DIR [--device cpu] \\
        [--cfg-options KEY=VALUE ...] [--launcher pytorch]
    torchrun --nproc_per_node N tools/mvs/self_train.py CONFIG \\
        --work-dir DIR --launcher pytorch

Stage 1 trains without depth labels (``self_training.unsupervised``), then
each of ``self_training.rounds`` rounds makes pseudo labels with the latest
weights (``tools/mvs/make_pseudo_depth.py``) and trains on them (Yang,
Alvarez, Liu, CVPR 2021, arXiv:2104.02972)::

    DIR/unsupervised/   DIR/pseudo/round{k}/   DIR/round{k}/

Rerunning the command skips finished stages and resumes a stopped one
(:mod:`mmext.mvs.self_training`).
"""
import argparse
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
        description='Self-supervised CVP-MVSNet: stage 1 and rounds of '
        'pseudo labels and training')
    parser.add_argument('config', help='self-training config')
    parser.add_argument('--work-dir', required=True,
                        help='folder of every stage')
    parser.add_argument('--device', default='cpu',
                        help='device of the pseudo-labelling network')
    add_cfg_options_argument(parser)
    add_launcher_arguments(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def train(cfg, args: argparse.Namespace) -> None:
    """The pipeline with the parsed arguments; prints each stage's final
    checkpoint."""
    from mmext.mvs.self_training import run_self_training
    result = run_self_training(cfg, args.work_dir, args.launcher,
                               args.device)
    for stage, checkpoint in result['checkpoints'].items():
        print(f'{stage}: {checkpoint}')


def main(argv: Optional[List[str]] = None) -> int:
    import mmext  # noqa: F401  (registries, checkpoint globals)
    from mmext.utils.cli import run_config_tool
    args = parse_args(argv)
    return run_config_tool(args, lambda cfg: train(cfg, args))


if __name__ == '__main__':
    sys.exit(main())
