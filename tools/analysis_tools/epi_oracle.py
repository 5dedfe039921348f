"""The oracle grid of EPI: train with pruning fixed at each candidate epoch.

EPI (Shen et al., "When to Prune? A Policy towards Early Structural
Pruning", CVPR 2022) claims to find a pruning epoch as good as an oracle
grid search over epochs at a fraction of its cost. This tool runs that grid
for a config whose ``custom_hooks`` hold an ``mmext.EPIHook``, one run after
the other in this process:

- ``dense``: the same schedule without pruning (the cost reference);
- ``epi``: the config as it is, EPI deciding when to prune;
- ``prune@E`` for each candidate epoch E: ``EPIHook(prune_epoch=E)``, the
  same target and criterion pruned after exactly E epochs (0: at
  initialisation);
- ``after-training``: the final dense model pruned, then fine-tuned for
  ``--finetune-epochs`` epochs (cosine from a tenth of the base learning
  rate), the classic train-prune-fine-tune pipeline.

Every run reports its final validation metric and the wall-clock of
``runner.train()`` (validation included, as in any run). The table is
printed and written to ``oracle.md``, the raw results to ``oracle.json``
(written after each run, so an interrupted grid resumes where it stopped)
and the plot of metric and cost against the pruning epoch, with the EPI
curve and EPI's pick, to ``oracle.png``.

Usage::

    python tools/analysis_tools/epi_oracle.py \
        configs/epi/epi-lat50_resnet18-w32_1xb64-12e_shapes-64px.py \
        --epochs 0 1 2 3 4 6 8 --finetune-epochs 2
"""
import argparse
import copy
import gc
import json
import os
import os.path as osp
import platform
import sys
from datetime import date

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mmext.engine.hooks.pruning_config import \
    pruning_hook_index  # noqa: E402
from mmext.utils.train_run import train_and_read_metric  # noqa: E402
from mmext.visualization.epi_plot import plot_oracle  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train with pruning fixed at each candidate epoch and '
        "compare with EPI's own choice.")
    parser.add_argument('config', help='config with an mmext.EPIHook')
    parser.add_argument(
        '--epochs',
        type=int,
        nargs='+',
        help='candidate pruning epochs (default: 0 .. max_epochs - 1)')
    parser.add_argument(
        '--finetune-epochs',
        type=int,
        default=2,
        help='fine-tuning epochs of the after-training row (0 skips it)')
    parser.add_argument(
        '--metric',
        default='accuracy/top1',
        help='validation metric to compare (default: accuracy/top1)')
    parser.add_argument(
        '--work-dir', help='default: work_dirs/<config>_oracle')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    return parser.parse_args()


def epi_hook_index(cfg: Config) -> int:
    """Position of the EPIHook in ``custom_hooks``, or a clear error."""
    try:
        return pruning_hook_index(cfg, ('EPIHook', ))
    except ValueError as error:
        raise SystemExit(f'epi_oracle: {error}')


def run_configs(cfg: Config, args, work_dir: str) -> dict:
    """Run name to the config of that run, in the order they run."""
    index = epi_hook_index(cfg)
    max_epochs = cfg.train_cfg.max_epochs
    epochs = args.epochs if args.epochs else list(range(max_epochs))
    bad = [e for e in epochs if not 0 <= e < max_epochs]
    if bad:
        raise SystemExit(f'epi_oracle: --epochs {bad} are outside [0, '
                         f'{max_epochs - 1}] (max_epochs={max_epochs})')

    def variant(name: str, hook_update=None) -> Config:
        run = copy.deepcopy(cfg)
        run.work_dir = osp.join(work_dir, name.replace('@', '_at_'))
        run.experiment_name = f'oracle_{name}'
        run.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1)
        hooks = list(run.custom_hooks)
        if hook_update is None:
            hooks.pop(index)
        else:
            hooks[index] = dict(hooks[index], **hook_update)
        run.custom_hooks = hooks
        return run

    runs = {'dense': variant('dense'), 'epi': variant('epi', {})}
    for epoch in epochs:
        runs[f'prune@{epoch}'] = variant(f'prune@{epoch}',
                                         dict(prune_epoch=epoch))
    if args.finetune_epochs > 0:
        tuned = variant('after-training', dict(prune_epoch=0))
        tuned.load_from = osp.join(runs['dense'].work_dir,
                                   f'epoch_{max_epochs}.pth')
        tuned.train_cfg.max_epochs = args.finetune_epochs
        tuned.default_hooks.checkpoint.interval = args.finetune_epochs
        base_lr = tuned.optim_wrapper.optimizer.lr
        tuned.param_scheduler = [
            dict(
                type='CosineAnnealingLR',
                T_max=args.finetune_epochs,
                eta_min=base_lr * 1e-3,
                by_epoch=True,
                begin=0,
                end=args.finetune_epochs,
                convert_to_iter_based=True)
        ]
        tuned.optim_wrapper.optimizer.lr = base_lr * 0.1
        runs['after-training'] = tuned
    return runs


def train_one(cfg: Config, metric: str) -> dict:
    """Train one run; its final metric, wall-clock and EPI history."""
    runner = Runner.from_cfg(cfg)
    value, seconds = train_and_read_metric(runner, metric, 'epi_oracle')
    result = dict(
        metric=value, seconds=seconds, epochs=cfg.train_cfg.max_epochs)
    hook = next((h for h in runner.hooks if type(h).__name__ == 'EPIHook'),
                None)
    if hook is not None:
        result['points'] = [
            dict(epoch=p['epoch'], epi=p['epi']) for p in hook.points
        ]
        result['pruned'] = hook.pruned
    del runner
    gc.collect()
    return result


def save_json(results: dict, path: str) -> None:
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, path)


def table(results: dict, metric: str) -> str:
    """The grid as a Markdown table (cost relative to dense training)."""
    dense = results['runs']['dense']
    grid = {
        name: r
        for name, r in results['runs'].items() if name.startswith('prune@')
    }
    best = max(grid.values(), key=lambda r: r['metric']) if grid else None
    epi = results['runs'].get('epi')
    lines = [
        f'| run | pruned at epoch | final {metric} | wall-clock (s) | '
        'cost vs dense |', '|---|---:|---:|---:|---:|'
    ]
    for name, r in results['runs'].items():
        pruned = r.get('pruned')
        if name == 'after-training':
            at = f"{dense['epochs']} (+{r['epochs']} ft)"
            seconds = dense['seconds'] + r['seconds']
        else:
            at = f"{pruned['epoch']:.2f}" if pruned else '-'
            seconds = r['seconds']
        marks = []
        if r is best:
            marks.append('oracle best')
        if name == 'epi':
            marks.append('**EPI**')
        label = f"{name} ({', '.join(marks)})" if marks else name
        lines.append(f"| {label} | {at} | {r['metric']:.2f} | "
                     f"{seconds:.0f} | {seconds / dense['seconds']:.2f}x |")
    if best is not None and epi is not None:
        grid_seconds = sum(r['seconds'] for r in grid.values())
        lines.append('')
        lines.append(
            f"EPI pruned at epoch {epi['pruned']['epoch']:.2f} "
            f"({epi['pruned']['reason']}); its final {metric} "
            f"{epi['metric']:.2f} is {epi['metric'] - best['metric']:+.2f} "
            f"from the oracle's best {best['metric']:.2f}; the EPI run took "
            f"{epi['seconds'] / dense['seconds']:.2f}x the dense wall-clock; "
            f"the grid took {grid_seconds / epi['seconds']:.1f}x the EPI "
            'run.')
    return '\n'.join(lines)


def plot(results: dict, metric: str, path: str) -> None:
    runs = results['runs']
    dense = runs['dense']
    grid = sorted(((int(n.split('@')[1]), r) for n, r in runs.items()
                   if n.startswith('prune@')))
    epi = runs.get('epi', {})
    points = epi.get('points', [])
    plot_oracle([e for e, _ in grid], [r['metric'] for _, r in grid],
                [r['seconds'] / dense['seconds'] for _, r in grid],
                path,
                epi_epochs=[p['epoch'] for p in points],
                epi_scores=[p['epi'] for p in points],
                epi_pick=(epi.get('pruned') or {}).get('epoch'),
                epi_accuracy=epi.get('metric'),
                dense_accuracy=dense['metric'],
                metric=metric)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', f'{name}_oracle')
    os.makedirs(work_dir, exist_ok=True)
    json_path = osp.join(work_dir, 'oracle.json')
    results = dict(
        config=args.config,
        machine=f'{platform.processor() or platform.machine()}, '
        f'{os.cpu_count()} cores, torch {torch.__version__}',
        date=str(date.today()),
        runs={})
    if osp.exists(json_path):
        with open(json_path) as f:
            results = json.load(f)
    for run_name, run_cfg in run_configs(cfg, args, work_dir).items():
        if run_name in results['runs']:
            print(f'epi_oracle: {run_name} done before, kept')
            continue
        print(f'epi_oracle: training {run_name}', flush=True)
        results['runs'][run_name] = train_one(run_cfg, args.metric)
        save_json(results, json_path)
    report = table(results, args.metric)
    with open(osp.join(work_dir, 'oracle.md'), 'w') as f:
        f.write(report + '\n')
    plot(results, args.metric, osp.join(work_dir, 'oracle.png'))
    print(report)


if __name__ == '__main__':
    main()
