"""Seconds per training iteration of a config, dense and slimmed by EPI.

For a config with an ``mmext.EPIHook`` this trains a few iterations in a
real Runner (data loading, data preprocessor, hooks, optimiser; no
validation, no checkpoints) twice per data-worker count: without the hook
(dense) and with the hook pruning before the first iteration
(``prune_epoch=0``, slim). It reports MMEngine's own ``time`` and
``data_time`` per iteration, averaged after the warm-up, and the slim/dense
ratio: the share of an iteration that pruning can remove. Used to choose
``num_workers`` for the Shapes EPI configs (docs/benchmarks.md).

Usage::

    python tools/analysis_tools/benchmark_train_iteration.py \
        configs/epi/epi-lat50_resnet18-w32_1xb64-12e_shapes-64px.py \
        --workers 0 2 --iters 45 --warmup 15
"""
import argparse
import copy
import gc
import os.path as osp
import tempfile

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.engine.hooks.pruning_config import pruning_hook_index


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config with an mmext.EPIHook')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    parser.add_argument('--iters', type=int, default=45)
    parser.add_argument('--warmup', type=int, default=15)
    return parser.parse_args()


def iteration_times(cfg: Config, slim: bool, workers: int, iters: int,
                    warmup: int, work_dir: str):
    """Mean (time, data_time) per iteration after ``warmup`` iterations."""
    cfg = copy.deepcopy(cfg)
    try:
        index = pruning_hook_index(cfg, ('EPIHook', ))
    except ValueError as error:
        raise SystemExit(f'benchmark_train_iteration: {error}')
    hook = cfg.custom_hooks[index]
    cfg.custom_hooks = ([dict(hook, prune_epoch=0, plot=False)]
                        if slim else [])
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = workers > 0
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=iters + 1)
    cfg.param_scheduler = []
    name = f"{'slim' if slim else 'dense'}_w{workers}"
    cfg.work_dir = osp.join(work_dir, name)
    cfg.experiment_name = f'benchmark_{name}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    times = np.array(hub.get_scalar('train/time').data[0][warmup:])
    data = np.array(hub.get_scalar('train/data_time').data[0][warmup:])
    del runner
    gc.collect()
    return float(times.mean()), float(data.mean())


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    rows = []
    with tempfile.TemporaryDirectory() as work_dir:
        for workers in args.workers:
            dense = iteration_times(cfg, False, workers, args.iters,
                                    args.warmup, work_dir)
            slim = iteration_times(cfg, True, workers, args.iters,
                                   args.warmup, work_dir)
            rows.append((workers, dense, slim))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'{args.iters} iterations, mean after {args.warmup}')
    print('| num_workers | dense s/iter (data) | slim s/iter (data) | '
          'slim / dense |')
    print('|---:|---:|---:|---:|')
    for workers, (dt, dd), (st, sd) in rows:
        print(f'| {workers} | {dt:.3f} ({dd:.3f}) | {st:.3f} ({sd:.3f}) | '
              f'{st / dt:.2f} |')


if __name__ == '__main__':
    main()
