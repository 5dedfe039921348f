# Copyright (c) mmext contributors. All rights reserved.
"""Test (evaluate) a checkpoint with a config of any scope.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options k=v ...] [--launcher pytorch]
    bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [args]

Follows mmdet 3.x / mmseg 1.x ``tools/test.py``:

- ``--out x.pkl`` dumps the predictions (mmdet's ``DumpDetResults`` under
  the mmdet scope, MMEngine's ``DumpResults`` otherwise). Under the mmseg
  scope a path that is not a pickle is a folder for the formatted results
  (``test_evaluator.output_dir`` with ``keep_results=True``), as in mmseg.
- ``--show``/``--show-dir`` switch on the scope's visualisation hook
  (``DetVisualizationHook``, ``SegVisualizationHook``, ...); the config must
  have ``default_hooks.visualization``.
- ``--tta`` swaps in ``tta_model``/``tta_pipeline`` (mmdet configs get
  mmdet's defaults when they lack them).

The data are checked before the runner is built, and ``mmext`` is imported
first (checkpoint globals for torch >= 2.6).
"""
import argparse
import copy
import os.path as osp
import warnings

import mmext  # noqa: F401  (checkpoint globals, registries)
from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

from mmext.utils.cli import (add_cfg_options_argument, add_launcher_arguments,
                             build_runner, export_local_rank, load_cfg,
                             prepare_cfg)
from mmext.utils.cpu_dist import close_distributed, exit_process


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation '
        '(mmseg scope: a folder for the formatted results)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    add_cfg_options_argument(parser)
    add_launcher_arguments(parser)
    parser.add_argument('--tta', action='store_true')
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    """Switch on ``default_hooks.visualization`` for ``--show/--show-dir``.

    mmdet's ``DetVisualizationHook`` takes ``test_out_dir`` (relative to
    ``work_dir/timestamp``); mmseg's ``SegVisualizationHook`` has none and
    saves through ``visualizer.save_dir``, so for it ``--show-dir`` sets the
    visualizer's ``save_dir``, as mmseg's tool does.

    Raises:
        RuntimeError: The config has no ``default_hooks.visualization``.
    """
    default_hooks = cfg.get('default_hooks', None) or {}
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            '--show/--show-dir need a visualization hook in the config, '
            'e.g. default_hooks = dict(visualization=dict('
            "type='DetVisualizationHook')) for mmdet or "
            "dict(type='SegVisualizationHook') for mmseg.")
    hook = default_hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        # The hooks draw every `interval`-th batch (default 50): paint every
        # image unless the config chose an interval.
        hook.setdefault('interval', 1)
        hook_type = str(hook.get('type', ''))
        if 'SegVisualizationHook' in hook_type:
            if cfg.get('visualizer', None) is None:
                cfg.visualizer = ConfigDict()
            cfg.visualizer['save_dir'] = args.show_dir
        else:
            hook['test_out_dir'] = args.show_dir
    return cfg


def apply_tta(cfg: Config) -> Config:
    """Replace the model with ``cfg.tta_model`` wrapping it.

    Raises:
        RuntimeError: ``tta_model`` or ``tta_pipeline`` is missing and the
            scope is not mmdet (mmdet configs get mmdet's defaults).
    """
    scope = cfg.get('default_scope', None)
    if 'tta_model' not in cfg:
        if scope != 'mmdet':
            raise RuntimeError(
                '--tta needs `tta_model` (and `tta_pipeline`) in the config, '
                "e.g. tta_model = dict(type='SegTTAModel') for mmseg.")
        warnings.warn('Cannot find ``tta_model`` in config, '
                      'we will set it as default.')
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(
                nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    if 'tta_pipeline' not in cfg:
        if scope != 'mmdet':
            raise RuntimeError('--tta needs `tta_pipeline` in the config.')
        warnings.warn('Cannot find ``tta_pipeline`` in config, '
                      'we will set it as default.')
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        cfg.tta_pipeline = copy.deepcopy(test_data_cfg.pipeline)
        flip_tta = dict(
            type='TestTimeAug',
            transforms=[
                [
                    dict(type='RandomFlip', prob=1.),
                    dict(type='RandomFlip', prob=0.)
                ],
                [
                    dict(
                        type='PackDetInputs',
                        meta_keys=('img_id', 'img_path', 'ori_shape',
                                   'img_shape', 'scale_factor', 'flip',
                                   'flip_direction'))
                ],
            ])
        cfg.tta_pipeline[-1] = flip_tta
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    return cfg


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line switches."""
    cfg = load_cfg(args)

    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise FileNotFoundError(
            f'Checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.tta:
        apply_tta(cfg)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        if cfg.get('default_scope', None) != 'mmseg':
            raise RuntimeError(
                f'--out must be a .pkl/.pickle file, got {args.out}')
        # mmseg: a folder for the formatted results, as mmseg's tool does.
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    return cfg


def add_dump_metric(runner: Runner, out: str, scope: str) -> None:
    """Append a metric that dumps the predictions to ``out`` (a pickle)."""
    if scope == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        metric = DumpDetResults(out_file_path=out)
    else:
        from mmengine.evaluator import DumpResults
        metric = DumpResults(out_file_path=out)
    runner.test_evaluator.metrics.append(metric)


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = prepare_cfg(build_cfg, args, ('test_dataloader', ))
    if cfg is None:
        return 1

    runner = build_runner(cfg)

    if args.out is not None and args.out.endswith(('.pkl', '.pickle')):
        add_dump_metric(runner, args.out, cfg.get('default_scope', None))
    runner.test()
    close_distributed()
    return 0


if __name__ == '__main__':
    exit_process(main())
