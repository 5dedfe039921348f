"""RIO's image-level sampler against MMEngine's ``ClassBalancedDataset``.

Both repeat an image ``r(I) = max(1, max_c sqrt(t / f(c)))`` times per
epoch (repeat-factor sampling: Gupta et al., "LVIS", CVPR 2019), ``f(c)``
being the fraction of training images that contain class ``c``. They
differ in the rounding: ``mmext.RepeatFactorSampler`` (Chang et al.,
"Image-Level or Object-Level? A Tale of Two Resampling Strategies for
Long-Tailed Detection", ICML 2021, arXiv 2104.05702) draws ``floor(r) +
Bernoulli(r - floor(r))`` anew every epoch, as RIO's Detectron2 sampler
does; ``ClassBalancedDataset`` repeats every image ``ceil(r)`` times, once
for the whole run.

For every config and seed this tool

1. trains ``python tools/train.py CONFIG --work-dir WORK_DIR/NAME-sSEED
   --cfg-options randomness.seed=SEED``, unless that work dir already
   holds the run's validation at its last epoch (an interrupted run is
   resumed from its last checkpoint);
2. reads the run's last validation metrics and its wall-clock (first to
   last line of its text log);
3. rebuilds the training set and the sampler the run used (the same seed)
   and counts, for every epoch, the images drawn, the iterations they make
   and the objects of each class they show,

then writes ``WORK_DIR/compare.json`` (after every run, atomically) and
the tables to ``WORK_DIR/compare.md``.

Usage::

    python tools/analysis_tools/compare_samplers.py \\
        configs/rio/rfs-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py \\
        configs/rio/cbd-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py \\
        --seeds 0 1 --work-dir work_dirs/compare_samplers
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
from datetime import date, datetime
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import mmext  # noqa: E402,F401  (registers mmext's modules)
from mmext.utils.atomic import atomic_write_json  # noqa: E402
from mmext.utils.cli import load_script  # noqa: E402

#: The validation metrics tabulated, as ``mmext.LVISMetric`` logs them.
METRICS = ('lvis/bbox_AP', 'lvis/bbox_AP50', 'lvis/bbox_APr',
           'lvis/bbox_APc', 'lvis/bbox_APf')


def _print_metrics_tool():
    """``tools/misc/print_metrics.py`` (the scalar-log reader) as a
    module."""
    return load_script(
        osp.join(REPO, 'tools', 'misc', 'print_metrics.py'),
        'mmext_print_metrics')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="RIO's repeat-factor sampler against MMEngine's "
        'ClassBalancedDataset: accuracy, epoch length and per-class '
        'exposure, several seeds.')
    parser.add_argument(
        'configs', nargs='+', help='training configs, one per sampler')
    parser.add_argument(
        '--names',
        nargs='+',
        help="a short name per config (default: the config name's first "
        "'-'-separated word, e.g. rfs, cbd)")
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument(
        '--work-dir',
        default='work_dirs/compare_samplers',
        help='one sub-folder per run, NAME-sSEED '
        '(default work_dirs/compare_samplers)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='override settings of every config, as in tools/train.py '
        '(passed on to it unchanged)')
    args = parser.parse_args(argv)
    options = argparse.ArgumentParser()
    options.add_argument('--o', nargs='*', action=DictAction, default={})
    args.options = options.parse_args(['--o', *args.cfg_options]).o
    if args.names is None:
        args.names = [
            osp.basename(c).split('-')[0].split('_')[0] for c in args.configs
        ]
    if len(args.names) != len(args.configs):
        parser.error(f'--names: {len(args.names)} names for '
                     f'{len(args.configs)} configs; give one per config')
    if len(set(args.names)) != len(args.names):
        parser.error(f'--names: {args.names} repeat a name; each config '
                     'needs its own (pass --names)')
    return args


def load_config(path: str, options: Optional[dict], seed: int) -> Config:
    """The config as ``tools/train.py`` builds it with these options."""
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    cfg.merge_from_dict({'randomness.seed': seed})
    return cfg


def finished_metrics(work_dir: str, max_epochs: int) -> Optional[Dict]:
    """The run's validation metrics if it validated at its last epoch.

    Args:
        work_dir (str): The run's work dir.
        max_epochs (int): The config's ``train_cfg.max_epochs``.

    Returns:
        dict | None: Metric name -> value, or None (not run, or stopped
        before its last validation).
    """
    reader = _print_metrics_tool()
    for path in reader.find_log_files(work_dir):
        found = reader.last_val_metrics(path)
        if found is not None:
            metrics, step = found
            return metrics if step == max_epochs else None
    return None


def _log_time(line: str, year: int) -> Optional[datetime]:
    """The time a MMEngine log line begins with (``YYYY/MM/DD HH:MM:SS``
    for the first lines, ``MM/DD HH:MM:SS`` for the rest), or None."""
    for width, form in ((19, '%Y/%m/%d %H:%M:%S'), (14, '%m/%d %H:%M:%S')):
        try:
            stamp = datetime.strptime(line[:width], form)
        except ValueError:
            continue
        return stamp if width == 19 else stamp.replace(year=year)
    return None


def wall_clock(work_dir: str) -> Optional[float]:
    """Seconds from the first to the last line of the newest text log
    (``WORK_DIR/<timestamp>/<timestamp>.log``); a resumed run counts its
    last part only."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')),
                  key=osp.getmtime)
    if not logs:
        return None
    first = last = None
    with open(logs[-1], encoding='utf-8', errors='replace') as f:
        for line in f:
            stamp = _log_time(line, first.year if first else date.today().year)
            if stamp is not None:
                first = first or stamp
                last = stamp
    if first is None or last == first:
        return None
    seconds = (last - first).total_seconds()
    return seconds if seconds >= 0 else seconds + 365 * 86400  # new year


def train(config: str, work_dir: str, seed: int,
          options: Sequence[str]) -> None:
    """Run ``tools/train.py`` on the config (resuming an interrupted run).

    Raises:
        SystemExit: The training exits with a non-zero status.
    """
    command = [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir,
        '--cfg-options', f'randomness.seed={seed}'
    ]
    command += list(options)
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        command.append('--resume')
    print('compare_samplers:', ' '.join(command), flush=True)
    done = subprocess.run(command)
    if done.returncode != 0:
        raise SystemExit(f'compare_samplers: training {config} with seed '
                         f'{seed} failed (exit {done.returncode}); its log '
                         f'is in {work_dir}')


def objects_per_image(dataset, num_classes: int) -> np.ndarray:
    """``[images, classes]`` objects of each class in each image of a
    detection dataset (``get_cat_ids`` lists one class per object)."""
    counts = np.zeros((len(dataset), num_classes), dtype=np.int64)
    for i in range(len(dataset)):
        np.add.at(counts[i], np.asarray(dataset.get_cat_ids(i), np.int64), 1)
    return counts


def epoch_draws(cfg: Config, epochs: int) -> List[Dict]:
    """What the run's training sampler draws, epoch by epoch.

    Builds ``cfg.train_dataloader``'s dataset and sampler (seeded with
    ``cfg.randomness.seed``, as the Runner seeds it) and its batch sampler,
    in one process.

    Args:
        cfg (Config): The training config.
        epochs (int): Epochs to draw.

    Returns:
        list[dict]: Per epoch, ``images`` (drawn), ``iterations`` (batches)
        and ``objects`` (objects shown per class index, a list).
    """
    from mmengine.registry import DATA_SAMPLERS, DATASETS
    loader = cfg.train_dataloader
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        dataset = DATASETS.build(loader.dataset)
        sampler = DATA_SAMPLERS.build(
            loader.sampler,
            default_args=dict(dataset=dataset, seed=cfg.randomness.seed))
        batch_sampler = None
        if loader.get('batch_sampler'):
            batch_sampler = DATA_SAMPLERS.build(
                loader.batch_sampler,
                default_args=dict(
                    sampler=sampler, batch_size=loader.batch_size))
    per_image = objects_per_image(dataset, len(dataset.metainfo['classes']))
    draws = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        if batch_sampler is None:
            iterations = math.ceil(len(indices) / loader.batch_size)
        else:
            iterations = sum(1 for _ in batch_sampler)
        draws.append(
            dict(
                images=len(indices),
                iterations=iterations,
                objects=per_image[indices].sum(0).tolist()))
    return draws


def exposure(draws: List[Dict], dataset_objects: Sequence[int]) -> List:
    """Objects shown per class and epoch, over one pass of the data."""
    shown = np.mean([d['objects'] for d in draws], axis=0)
    return (shown / np.maximum(np.asarray(dataset_objects), 1)).tolist()


def dataset_objects(cfg: Config) -> Dict:
    """Class names and objects per class of the training set (each image
    once)."""
    from mmengine.registry import DATASETS
    dataset_cfg = cfg.train_dataloader.dataset
    while 'dataset' in dataset_cfg:  # dataset wrappers
        dataset_cfg = dataset_cfg.dataset
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        dataset = DATASETS.build(dataset_cfg)
    classes = list(dataset.metainfo['classes'])
    objects = objects_per_image(dataset, len(classes)).sum(0)
    return dict(classes=classes, objects=objects.tolist(), images=len(dataset))


def _mean_range(values: List[float], scale: float = 1.0,
                digits: int = 1) -> str:
    values = [v * scale for v in values]
    text = f'{statistics.mean(values):.{digits}f}'
    if len(values) > 1:
        text += f' ({min(values):.{digits}f}-{max(values):.{digits}f})'
    return text


def run_draws(results: dict, name: str) -> List[Dict]:
    """Every epoch drawn for sampler ``name``, over all its seeds."""
    return [
        draw for seed in results['seeds'] for draw in results['runs'].get(
            f'{name}-s{seed}', {}).get('draws', [])
    ]


def table(results: dict) -> str:
    """The accuracy table, the epoch-length table and the per-class
    exposure table, in Markdown, with a verdict on the rounding."""
    names, seeds = results['names'], results['seeds']
    short = [m.split('_', 1)[1] for m in METRICS]
    lines = [
        '| sampler | seed | ' + ' | '.join(short) + ' | wall-clock |',
        '|---|---:|' + '---:|' * len(METRICS) + '---:|'
    ]
    means = {}
    for name in names:
        runs = [(s, results['runs'].get(f'{name}-s{s}')) for s in seeds]
        runs = [(s, r) for s, r in runs if r and 'metrics' in r]
        for seed, run in runs:
            cells = [f"{100 * run['metrics'][m]:.1f}" for m in METRICS]
            seconds = run.get('seconds')
            clock = f'{seconds:.0f} s' if seconds else '-'
            lines.append(f'| {name} | {seed} | ' + ' | '.join(cells) +
                         f' | {clock} |')
        if runs:
            means[name] = {
                m: [r['metrics'][m] for _, r in runs]
                for m in METRICS
            }
            cells = [_mean_range(means[name][m], 100) for m in METRICS]
            lines.append(f'| **{name}, mean (range)** | | ' +
                         ' | '.join(cells) + ' | |')
    lines += [
        '', '| sampler | images per epoch (mean, range) | '
        'iterations per epoch (mean, range) | seeds x epochs drawn |',
        '|---|---:|---:|---:|'
    ]
    data = results.get('dataset')
    for name in names:
        draws = run_draws(results, name)
        if not draws:
            continue
        images = [d['images'] for d in draws]
        iters = [d['iterations'] for d in draws]
        lines.append(f'| {name} | {_mean_range(images, digits=1)} | '
                     f'{_mean_range(iters, digits=1)} | {len(draws)} |')
    if data:
        lines += [
            '', '| sampler | ' + ' | '.join(data['classes']) + ' |',
            '|---|' + '---:|' * len(data['classes']),
            '| objects in the data | ' +
            ' | '.join(str(n) for n in data['objects']) + ' |'
        ]
        for name in names:
            draws = run_draws(results, name)
            if draws:
                shown = exposure(draws, data['objects'])
                lines.append(f'| {name}: shown per epoch / in the data | ' +
                             ' | '.join(f'{x:.2f}x' for x in shown) + ' |')
    if len(means) == 2:
        (a, ma), (b, mb) = means.items()
        verdicts = []
        for metric in METRICS:
            gap = 100 * (statistics.mean(ma[metric]) -
                         statistics.mean(mb[metric]))
            spread = 100 * max(
                max(v) - min(v) for v in (ma[metric], mb[metric]))
            verdicts.append(
                f"{metric.split('_', 1)[1]} {gap:+.1f} (seed spread "
                f'{spread:.1f}: '
                f"{'beyond' if abs(gap) > spread else 'within'} it)")
        lines += ['', f'{a} against {b}, means: ' + '; '.join(verdicts)]
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    results_path = osp.join(args.work_dir, 'compare.json')
    results = dict(
        names=args.names,
        seeds=args.seeds,
        configs=dict(zip(args.names, args.configs)),
        machine=f'{platform.machine()}, {os.cpu_count()} cores',
        date=date.today().isoformat(),
        runs={})
    if osp.isfile(results_path):
        with open(results_path, encoding='utf-8') as f:
            results['runs'] = json.load(f).get('runs', {})
    for name, config in zip(args.names, args.configs):
        for seed in args.seeds:
            key = f'{name}-s{seed}'
            cfg = load_config(config, args.options, seed)
            max_epochs = cfg.train_cfg.max_epochs
            work_dir = osp.join(args.work_dir, key)
            metrics = finished_metrics(work_dir, max_epochs)
            if metrics is None:
                train(config, work_dir, seed, args.cfg_options)
                metrics = finished_metrics(work_dir, max_epochs)
            if metrics is None:
                raise SystemExit(
                    f'compare_samplers: {work_dir} has no validation at '
                    f'epoch {max_epochs}; the config must validate at its '
                    'last epoch (train_cfg.val_interval)')
            missing = [m for m in METRICS if m not in metrics]
            if missing:
                raise SystemExit(
                    f'compare_samplers: {key} logged no {missing}; the '
                    'config needs val_evaluator=mmext.LVISMetric '
                    "(metric='bbox')")
            results['runs'][key] = dict(
                config=config,
                seed=seed,
                metrics={m: float(metrics[m])
                         for m in METRICS},
                seconds=wall_clock(work_dir),
                draws=epoch_draws(cfg, max_epochs))
            if 'dataset' not in results:
                results['dataset'] = dataset_objects(cfg)
            atomic_write_json(results_path, results)
    report = table(results)
    with open(osp.join(args.work_dir, 'compare.md'), 'w') as f:
        f.write(report + '\n')
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
