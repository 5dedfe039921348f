# Copyright (c) mmext contributors. All rights reserved.
"""Recover training images from gradients with a GradInversion config.

Usage::

    python tools/invert.py CONFIG [--checkpoint VICTIM.pth]
        [--gradients FILE --image-shape C H W] [--work-dir DIR] [--resume]
        [--cfg-options k=v ...] [--launcher pytorch]
    python -m torch.distributed.run --nproc_per_node N tools/invert.py \
        CONFIG --launcher pytorch [args]   # batches shared out over N

The config's ``test_cfg`` is an ``mmext.GradInversionLoop`` (Yin et al.,
"See through Gradients: Image Batch Recovery via GradInversion", CVPR 2021,
arXiv 2104.07586). ``--checkpoint`` is the attacked model's weights (the
config's ``load_from`` otherwise). ``--gradients`` attacks the batch in a
gradients file instead of batches drawn from the dataset. ``--resume``
continues from the optimisation state saved in the work dir. Images, state
and metrics go to ``WORK_DIR/gradinversion`` and the run's log.
"""
import argparse

import mmext  # noqa: F401  (checkpoint globals, registries)

from mmext.utils.cli import (add_cfg_options_argument, add_launcher_arguments,
                             build_runner, export_local_rank, load_cfg,
                             prepare_cfg)
from mmext.utils.cpu_dist import close_distributed, exit_process


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Recover a batch of images from its gradients')
    parser.add_argument('config', help='GradInversion config file')
    parser.add_argument('--checkpoint', help='weights of the attacked model')
    parser.add_argument('--work-dir', help='folder for images and state')
    parser.add_argument(
        '--gradients', help='attack the batch in this gradients file')
    parser.add_argument(
        '--image-shape',
        type=int,
        nargs=3,
        metavar=('C', 'H', 'W'),
        help='image shape when the gradients file has no images')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='continue from the saved optimisation state')
    add_cfg_options_argument(parser)
    add_launcher_arguments(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def build_cfg(args: argparse.Namespace):
    """Load the config and apply the command-line switches.

    Raises:
        ValueError: The config's ``test_cfg`` is not a GradInversionLoop, or
            no checkpoint is given.
    """
    cfg = load_cfg(args)
    loop_type = str(cfg.get('test_cfg', {}).get('type', ''))
    if not loop_type.endswith('GradInversionLoop'):
        raise ValueError(
            f'{args.config}: test_cfg.type is {loop_type!r}; tools/invert.py '
            "runs configs with test_cfg=dict(type='mmext.GradInversionLoop',"
            ' ...) (see configs/gradinversion)')
    if args.checkpoint is not None:
        cfg.load_from = args.checkpoint
    if cfg.get('load_from', None) is None:
        raise ValueError(
            'no weights for the attacked model: pass --checkpoint '
            '(e.g. work_dirs/cls_resnet18-w32_1xb64-12e_shapes-64px/'
            'epoch_5.pth) or set load_from in the config')
    if args.gradients is not None:
        cfg.test_cfg.gradients_file = args.gradients
    if args.image_shape is not None:
        cfg.test_cfg.image_shape = list(args.image_shape)
    cfg.test_cfg.resume = bool(args.resume)
    return cfg


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = prepare_cfg(build_cfg, args, ('test_dataloader', ),
                      errors=(FileNotFoundError, RuntimeError, ValueError))
    if cfg is None:
        return 1
    build_runner(cfg).test()
    close_distributed()
    return 0


if __name__ == '__main__':
    exit_process(main())
