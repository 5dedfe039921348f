# Copyright (c) mmext contributors. All rights reserved.
"""Iterations per second of GradInversion with its seeds (restarts) in a
Python loop, batched into one computation, in blocks on several threads,
and in one pooled forward.

Usage::

    python tools/analysis_tools/benchmark_gradinversion_restarts.py \\
        configs/gradinversion/gradinversion_resnet18-w32_b8-600it_shapes-64px.py \\
        --checkpoint work_dirs/cls_s0/epoch_5.pth \\
        [--iterations 20] [--repeats 3] [--warmup 2] [--threads T [T ...]] \\
        [--paths PATH [PATH ...]] [--ceiling]

In one process, on the config's first attacked batch (Yin et al., "See
through Gradients: Image Batch Recovery via GradInversion", CVPR 2021,
arXiv 2104.07586; drawn as ``mmext.GradInversionLoop`` draws it), every
repeat times ``--iterations`` steps of ``mmext.inversion.GradInversion``
on the paths of :data:`PATHS`: ``loop`` (``attack.batched_seeds=False``,
one thread), ``batched`` (``True``, one thread), ``threads``
(``seed_workers`` threads, one per intra-op thread, each running its
block of seeds one after the other), ``batched-threads`` (the same
threads, each block batched), ``pooled`` (``attack.pooled_seeds=True``,
one forward of every seed's images on one thread: the default where the
victim allows it) and ``pooled-threads`` (one pooled forward per thread),
on the same victim, target and initial images, alternating which path
goes first. It prints the rates
per repeat, their medians and the median of the per-repeat ratios to the
loop, which is robust to a machine whose load drifts, and how far apart
the paths' images ended (they compute the same objective; in float32
their rounding differences, ~1e-6 after one step, grow over Adam's steps
to ~1e-2 after 20 for the pooled path and ~2e-1 for the threads and the
batched paths). The load average is printed too: on a shared
machine, read the ratios rather than the rates.

``--paths pooled threads`` times only those paths beside the loop.

``--threads 1 2`` repeats the comparison for each intra-op thread count:
on a CPU whose cores other processes also use, fewer threads than cores
can be much faster for both paths, and the ratio depends on it.

``--ceiling`` also times, interleaved with the paths, ``bound``: one seed
that attacks all ``seeds x batch`` images as a single batch (``seeds``
batches of the config's sampling, put together; true labels). It is not
the attack (its weight gradient and its BN statistics pool what the seeds
keep apart), but it does the attack's arithmetic once with no per-seed
work at all.
"""
import argparse
import dataclasses
import os
import statistics
import time
from typing import Dict, List, Optional

import mmext  # noqa: F401  (registries)
import torch
from mmengine.config import Config
from tqdm import tqdm

from mmext.apis import init_model
from mmext.engine.runner.gradinversion_loop import build_settings
from mmext.inversion import (GradInversion, InversionSettings,
                             InversionTarget, dataset_labels,
                             dataset_target, draw_target_batches,
                             valid_range)
from mmext.inversion.seed_workers import resolve_seed_workers
from mmext.inversion.targets import pixel_mean_std
from mmext.registry import DATASETS

#: ``seed_workers`` of a path: one thread per intra-op thread.
PER_INTRA_OP_THREAD = 'per-intra-op-thread'

#: The compared paths' settings: the seeds in a loop and batched, on one
#: thread; in blocks on one thread per intra-op thread (at most one per
#: seed), each block's seeds one after the other (``threads``) or batched
#: (``batched-threads``); and in one pooled forward on one thread
#: (``pooled``, the default for a victim it supports) or one per block
#: (``pooled-threads``).
PATHS: Dict[str, Dict[str, object]] = {
    'loop': dict(pooled_seeds=False, batched_seeds=False, seed_workers=1),
    'batched': dict(pooled_seeds=False, batched_seeds=True, seed_workers=1),
    'threads': dict(pooled_seeds=False, batched_seeds=False,
                    seed_workers=PER_INTRA_OP_THREAD),
    'batched-threads': dict(pooled_seeds=False, batched_seeds=True,
                            seed_workers=PER_INTRA_OP_THREAD),
    'pooled': dict(pooled_seeds=True, seed_workers=1),
    'pooled-threads': dict(pooled_seeds=True,
                           seed_workers=PER_INTRA_OP_THREAD),
}


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Iterations per second of GradInversion with its seeds '
        'in a Python loop and batched (attack.batched_seeds), interleaved '
        'in one process')
    parser.add_argument('config', help='GradInversion config file')
    parser.add_argument(
        '--checkpoint', required=True, help='weights of the attacked model')
    parser.add_argument(
        '--iterations',
        type=int,
        default=20,
        help='timed steps per path and repeat (default: 20)')
    parser.add_argument(
        '--repeats',
        type=int,
        default=3,
        help='repeats; the medians are over them (default: 3)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=2,
        help='untimed steps before each timed run (default: 2)')
    parser.add_argument(
        '--ceiling',
        action='store_true',
        help="also time 'bound': one seed on all seeds x batch images, the "
        "attack's arithmetic once with no per-seed work")
    parser.add_argument(
        '--paths',
        nargs='+',
        choices=list(PATHS),
        help='paths to time beside the loop, which is always timed '
        '(default: all)')
    parser.add_argument(
        '--threads',
        type=int,
        nargs='+',
        help='torch intra-op thread counts to compare the paths at, one '
        'after the other (default: torch\'s own choice)')
    args = parser.parse_args(argv)
    for name in ('iterations', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1')
    if args.threads is not None and min(args.threads) < 1:
        parser.error('--threads must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    return args


def first_target(cfg: Config, model: torch.nn.Module,
                 pooled_batches: int = 0) -> InversionTarget:
    """The first batch ``test_cfg`` attacks, as the loop draws it; with
    ``pooled_batches`` > 0, that many batches put together into one
    target with true labels (the ``--ceiling`` path)."""
    loop = cfg.test_cfg
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batches = draw_target_batches(
        dataset_labels(dataset), loop.get('batch_size', 8),
        max(1, pooled_batches), loop.get('sampling', 'distinct_labels'),
        loop.get('seed', 0))
    if pooled_batches:
        return dataset_target(model, dataset, sum(batches, []), 'true',
                              with_features=False)
    return dataset_target(model, dataset, batches[0],
                          loop.get('labels', 'recovered'),
                          with_features=False)


def build_attack(model: torch.nn.Module, target: InversionTarget,
                 settings: InversionSettings, path: Dict[str, object],
                 seed: int) -> GradInversion:
    """A fresh attack on ``target`` with the settings of ``path`` (a
    value of :data:`PATHS`)."""
    lower, upper = valid_range(*(t.tolist() for t in pixel_mean_std(model)))
    if path.get('seed_workers') == PER_INTRA_OP_THREAD:
        path = dict(path, seed_workers=torch.get_num_threads())
    return GradInversion(
        model,
        target.gradients,
        target.labels,
        target.image_shape,
        lower,
        upper,
        dataclasses.replace(settings, **path),
        seed=seed,
        true_images=target.images)


def build_pooled_attack(model: torch.nn.Module, pooled: InversionTarget,
                        settings: InversionSettings,
                        seed: int) -> GradInversion:
    """One seed on the pooled target (the ``--ceiling`` path, ``bound``)."""
    return build_attack(model, pooled,
                        dataclasses.replace(settings, num_seeds=1),
                        PATHS['loop'], seed)


def timed_steps(attack: GradInversion, warmup: int, iterations: int,
                bar: tqdm) -> float:
    """Iterations per second of ``iterations`` steps after ``warmup``."""
    for _ in range(warmup):
        attack.step()
    start = time.perf_counter()
    for _ in range(iterations):
        attack.step()
        bar.update()
    return iterations / (time.perf_counter() - start)


def compare(
        model: torch.nn.Module,
        target: InversionTarget,
        settings: InversionSettings,
        seed: int,
        args: argparse.Namespace,
        pooled: Optional[InversionTarget] = None) -> Dict[str, List[float]]:
    """Interleaved timings at the current thread count: path name -> it/s
    per repeat and ``'<path>/loop'`` -> that path's rate over the loop's,
    per repeat (``'bound/loop'`` with a ``pooled`` target)."""
    chosen = set(args.paths or PATHS) | {'loop'}
    paths = [name for name in PATHS if name in chosen] + (
        ['bound'] if pooled is not None else [])
    rates: Dict[str, List[float]] = {name: [] for name in paths}
    total = len(paths) * args.repeats * args.iterations
    with tqdm(total=total, desc=f'{torch.get_num_threads()} threads',
              unit='it') as bar:
        for repeat in range(args.repeats):
            order = paths if repeat % 2 == 0 else paths[::-1]
            images = {}
            for name in order:
                if name == 'bound':
                    attack = build_pooled_attack(model, pooled, settings,
                                                 seed)
                else:
                    attack = build_attack(model, target, settings,
                                          PATHS[name], seed)
                rates[name].append(
                    timed_steps(attack, args.warmup, args.iterations, bar))
                images[name] = attack.images.detach()
            parts = []
            for name in paths:
                line = f'{name} {rates[name][-1]:.3f} it/s'
                if name != 'loop':
                    ratio = rates[name][-1] / rates['loop'][-1]
                    rates.setdefault(f'{name}/loop', []).append(ratio)
                    line += f' ({ratio:.2f}x)'
                parts.append(line)
            difference = max(
                float((images['loop'] - images[name]).abs().max())
                for name in paths if name != 'bound')
            bar.write(f'repeat {repeat + 1}/{args.repeats}: '
                      f'{", ".join(parts)}; max |images difference| '
                      f'{difference:.2e}; load average '
                      f'{os.getloadavg()[0]:.2f}')
    return rates


def summary(rates: Dict[str, List[float]], args: argparse.Namespace,
            workers: int) -> str:
    """One line: the medians over the repeats."""
    parts = []
    for name in rates:
        if '/' in name:
            continue
        rate = statistics.median(rates[name])
        line = f'{name} {rate:.3f} it/s ({1 / rate:.3f} s/it)'
        if name != 'loop':
            line += (f', {name}/loop '
                     f'{statistics.median(rates[name + "/loop"]):.2f}x')
        parts.append(line)
    return (f'{torch.get_num_threads()} threads ({workers} seed workers), '
            f'median over {args.repeats} repeats of {args.iterations} '
            f'iterations: ' + '; '.join(parts) +
            (' (bound: one seed on all images, not the attack)'
             if 'bound' in rates else ''))


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    settings = build_settings(dict(cfg.test_cfg.get('attack', {})))
    model = init_model(cfg, args.checkpoint).eval()
    target = first_target(cfg, model)
    pooled = (first_target(cfg, model, settings.num_seeds)
              if args.ceiling else None)
    seed = cfg.test_cfg.get('seed', 0)
    print(f'{args.config}: {settings.num_seeds} seeds x batch '
          f'{target.batch_size} x {tuple(target.image_shape)}, '
          f'{os.cpu_count()} CPUs, load average '
          f'{os.getloadavg()[0]:.2f} at the start')
    lines = []
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        workers = resolve_seed_workers(None, settings.num_seeds,
                                       torch.device('cpu'))
        lines.append(
            summary(compare(model, target, settings, seed, args, pooled),
                    args, workers))
        print(lines[-1])
    if len(lines) > 1:
        print('\n'.join(['summary:'] + lines))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
