# Copyright (c) mmext contributors. All rights reserved.
"""Train a model from a config of any scope (mmdet, mmseg, mmext, ...).

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]
    bash tools/dist_train.sh CONFIG NPROC [args]

Follows mmdet 3.x ``tools/train.py``. In addition it imports ``mmext``
first (allow-lists the globals of MMEngine checkpoints so ``--resume`` works
on torch >= 2.6), checks that the data exist before the runner is built, and
runs ``--launcher pytorch`` on CPU-only machines over gloo.
"""
import argparse
import logging
import os.path as osp

import mmext  # noqa: F401  (checkpoint globals for --resume, registries)
from mmengine.config import Config
from mmengine.logging import print_log

from mmext.utils.cli import (add_cfg_options_argument, add_launcher_arguments,
                             build_runner, export_local_rank, load_cfg,
                             prepare_cfg)
from mmext.utils.cpu_dist import (accelerator_available, close_distributed,
                                   exit_process)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (needs a GPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    add_cfg_options_argument(parser)
    add_launcher_arguments(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line switches.

    Raises:
        RuntimeError: ``--amp`` without an accelerator or with an optimizer
            wrapper other than ``OptimWrapper``; ``--auto-scale-lr`` without
            ``auto_scale_lr`` in the config.
        FileNotFoundError: ``--resume PATH`` does not exist.
    """
    cfg = load_cfg(args)

    if args.amp:
        enable_amp(cfg)

    if args.auto_scale_lr:
        if ('auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr
                and 'base_batch_size' in cfg.auto_scale_lr):
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('Can not find "auto_scale_lr" or '
                               '"auto_scale_lr.enable" or '
                               '"auto_scale_lr.base_batch_size" in your'
                               ' configuration file.')

    # resume: 'auto' finds the latest checkpoint in work_dir.
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume) and '://' not in args.resume:
            raise FileNotFoundError(
                f'--resume checkpoint not found: {args.resume} (use '
                '--resume without a path to resume from the latest '
                'checkpoint in the work dir)')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def enable_amp(cfg: Config) -> None:
    """Switch ``cfg.optim_wrapper`` to ``AmpOptimWrapper`` (dynamic scale).

    MMEngine's ``AmpOptimWrapper`` asserts that a CUDA/NPU/MLU/MUSA device is
    present (it wraps ``torch.cuda.amp.GradScaler``), so on a CPU-only machine
    this raises at once with the fix instead of after the model was built.

    Raises:
        RuntimeError: No accelerator, or an optimizer wrapper that is not
            ``OptimWrapper``.
    """
    if not accelerator_available():
        raise RuntimeError(
            '--amp needs a GPU (or NPU/MLU/MUSA): MMEngine\'s '
            'AmpOptimWrapper uses torch.cuda.amp.GradScaler and refuses to '
            'run on CPU. Drop --amp to train in float32 on this machine.')
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
    else:
        if optim_wrapper != 'OptimWrapper':
            raise RuntimeError(
                '`--amp` is only supported when the optimizer wrapper type '
                f'is `OptimWrapper` but got {optim_wrapper}.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = prepare_cfg(build_cfg, args,
                      ('train_dataloader', 'val_dataloader'))
    if cfg is None:
        return 1
    runner = build_runner(cfg)
    runner.train()
    close_distributed()
    return 0


if __name__ == '__main__':
    exit_process(main())
