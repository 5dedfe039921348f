"""HALP against Torch-Pruning's own pruner at the same measured latency.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv 2110.10811) allocates channels by a latency knapsack;
Torch-Pruning (Fang et al., CVPR 2023, https://github.com/VainF/Torch-Pruning)
ranks all channel groups by one global importance and removes a channel
fraction. For a config holding an ``mmext.HALPHook`` this tool, for every
latency target and seed:

1. trains the HALP run (the config, ``target_ratio`` and seed set) and
   rebuilds its slim model from the last checkpoint;
2. measures the HALP slim models against the dense model, interleaved
   (:func:`mmext.pruning.latency.measure_forward_latency`, the timing of
   ``tools/pruning/build_latency_lut.py``; dense = 1.0);
3. calibrates Torch-Pruning's ``pruning_ratio`` so that one global Taylor
   step on the dense checkpoint (gradients summed over
   ``--calibration-batches`` training batches) measures the HALP runs' mean
   latency (two grids of ratios, each timed interleaved, interpolated);
4. trains the Torch-Pruning run with that ratio on HALP's schedule
   (:class:`mmext.engine.hooks.torch_pruning_peer_hook.TorchPruningPeerHook`:
   ``MetaPruner``, ``GroupTaylorImportance``, global, iterative, the same
   steps, the same optimiser, epochs and learning-rate schedule, channel
   counts rounded to HALP's ``channel_group_size``);
5. measures every slim model of the target against the dense one in one
   interleaved run, and writes the table.

Results go to ``<work-dir>/compare.json`` after every run (an interrupted
comparison resumes where it stopped) and the table to
``<work-dir>/compare.md``. A target ``R:G`` also sets HALP's
``channel_group_size`` to ``G`` (a target below the smallest latency
reachable with the config's group size needs smaller groups).

Usage::

    python tools/analysis_tools/compare_pruners.py \\
        configs/halp/halp-50_resnet18-w32_1xb64-6e_shapes-64px.py \\
        --targets 0.5 0.3:2 --seeds 0 1 --work-dir work_dirs/compare_pruners
"""
import argparse
import copy
import gc
import json
import os
import os.path as osp
import platform
import statistics
import sys
from datetime import date
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mmext.apis import init_model  # noqa: E402
from mmext.engine.hooks.pruning_config import \
    pruning_hook_index  # noqa: E402
from mmext.engine.hooks.pruning_hook import CHECKPOINT_KEY  # noqa: E402
from mmext.engine.hooks.torch_pruning_peer_hook import (  # noqa: E402
    SLIM_MODEL_FILE, TorchPruningPeerHook, load_slim_model)
from mmext.pruning.export import rebuild_slim  # noqa: E402
from mmext.pruning.graph import build_channel_groups, traceable  # noqa
from mmext.pruning.latency import measure_forward_latency  # noqa: E402
from mmext.pruning.record import PruningRecord  # noqa: E402
from mmext.pruning.torch_pruning_peer import TorchPruningPeer  # noqa: E402
from mmext.utils.atomic import atomic_torch_save, \
    atomic_write_json  # noqa: E402
from mmext.utils.train_run import train_and_read_metric  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='HALP against Torch-Pruning at the same measured '
        'latency, several seeds.')
    parser.add_argument('config', help='a config with an mmext.HALPHook')
    parser.add_argument(
        '--targets',
        nargs='+',
        default=['0.5'],
        help="HALP latency targets; 'R:G' also sets channel_group_size=G")
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument(
        '--metric',
        default='accuracy/top1',
        help='validation metric (default accuracy/top1; coco/bbox_mAP for '
        'detectors)')
    parser.add_argument('--work-dir', help='default work_dirs/<config>_peers')
    parser.add_argument(
        '--repeats',
        type=int,
        default=20,
        help='interleaved timing rounds (default 20)')
    parser.add_argument(
        '--calibration-batches',
        type=int,
        help='training batches whose gradients calibrate Torch-Pruning '
        "(default: the HALP hook's interval)")
    parser.add_argument(
        '--calibration-points',
        type=int,
        default=12,
        help='Torch-Pruning ratios timed per calibration grid (default 12)')
    parser.add_argument(
        '--rounds',
        type=int,
        default=2,
        help='Torch-Pruning rounds: a round whose mean latency misses '
        "HALP's by more than --tolerance is trained again with a corrected "
        'ratio (default 2)')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=0.03,
        help='accepted latency difference, dense = 1 (default 0.03)')
    parser.add_argument(
        '--threads', type=int, help='torch threads for the timing')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    return parser.parse_args(argv)


def parse_target(text: str) -> Tuple[float, int]:
    """``'0.3:2'`` -> ``(0.3, 2)``; ``'0.5'`` -> ``(0.5, 0)`` (keep G)."""
    ratio, _, group = text.partition(':')
    try:
        value, size = float(ratio), int(group or 0)
    except ValueError:
        raise SystemExit(f'compare_pruners: --targets {text!r} is not R or '
                         'R:G, e.g. 0.5 or 0.3:2') from None
    if not 0 < value < 1 or size < 0:
        raise SystemExit(f'compare_pruners: --targets {text!r}: R must be '
                         'in (0, 1) and G a positive channel count')
    return value, size


class Comparison:
    """The runs of one config, their results and the timing set-up."""

    def __init__(self, cfg: Config, args: argparse.Namespace,
                 work_dir: str) -> None:
        self.cfg = cfg
        self.args = args
        self.work_dir = work_dir
        self.index = pruning_hook_index(cfg, ('HALPHook', ))
        self.hook = dict(cfg.custom_hooks[self.index])
        self.scope = self.hook.get('scope')
        self.shape = tuple(self.hook['input_shape'])
        self.batch = int(self.hook.get('latency_batch') or 1)
        self.json_path = osp.join(work_dir, 'compare.json')
        self.results = dict(
            config=args.config,
            machine=f'{platform.processor() or platform.machine()}, '
            f'{os.cpu_count()} cores, torch {torch.__version__}',
            date=str(date.today()),
            metric=args.metric,
            runs={},
            calibration={},
            latency={})
        if osp.exists(self.json_path):
            with open(self.json_path) as f:
                self.results = json.load(f)

    def save(self) -> None:
        atomic_write_json(self.json_path, self.results)

    # runs ------------------------------------------------------------------
    def run_cfg(self, name: str, seed: int) -> Config:
        """The config of one run: seed, work dir, one final checkpoint."""
        run = copy.deepcopy(self.cfg)
        run.work_dir = osp.join(self.work_dir, name)
        run.experiment_name = name
        run.randomness = dict(run.get('randomness', {}), seed=seed)
        epochs = run.train_cfg.max_epochs
        run.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
        return run

    def train(self, name: str, run: Config, extra_hook=None) -> None:
        """Train one run (unless done) and record its metric."""
        if name in self.results['runs']:
            print(f'compare_pruners: {name} done before, kept')
            return
        print(f'compare_pruners: training {name}', flush=True)
        runner = Runner.from_cfg(run)
        if extra_hook is not None:
            runner.register_hook(extra_hook)
        metric, seconds = train_and_read_metric(runner, self.args.metric,
                                                'compare_pruners')
        self.results['runs'][name] = dict(
            metric=metric, seconds=seconds, work_dir=run.work_dir)
        del runner
        gc.collect()
        self.save()

    def halp(self, target: float, group: int, seed: int) -> str:
        name = f'halp-{target:g}_s{seed}'
        run = self.run_cfg(name, seed)
        hooks = list(run.custom_hooks)
        update = dict(target_ratio=target)
        if group:
            update['channel_group_size'] = group
        hooks[self.index] = dict(hooks[self.index], **update)
        run.custom_hooks = hooks
        self.train(name, run)
        self.save_halp_slim(name, run)
        return name

    def save_halp_slim(self, name: str, run: Config) -> None:
        """Rebuild the HALP run's slim model once, saved whole."""
        path = osp.join(run.work_dir, SLIM_MODEL_FILE)
        if osp.exists(path):
            return
        checkpoint = _load_checkpoint(
            osp.join(run.work_dir, f'epoch_{run.train_cfg.max_epochs}.pth'),
            map_location='cpu')
        model = init_model(run)
        hook = run.custom_hooks[self.index]
        groups = build_channel_groups(model, torch.randn(1, *self.shape),
                                      self.scope,
                                      hook.get('ignored_layers', ()))
        record = PruningRecord.from_dict(checkpoint[CHECKPOINT_KEY])
        _, slim = rebuild_slim(model, checkpoint['state_dict'], record,
                               groups, hook)
        atomic_torch_save(slim, path)

    def torch_pruning(self, target: float, group: int, seed: int,
                      ratio: float, round_index: int = 1) -> str:
        name = tp_run_name(target, seed, round_index)
        run = self.run_cfg(name, seed)
        hooks = list(run.custom_hooks)
        hooks.pop(self.index)
        run.custom_hooks = hooks
        peer = TorchPruningPeerHook(
            pruning_ratio=ratio,
            input_shape=self.shape,
            start=self.hook.get('start', 0),
            interval=self.hook.get('interval', 40),
            num_steps=self.hook.get('num_steps', 30),
            importance=self.hook.get('importance', 'taylor'),
            round_to=group or self.hook.get('channel_group_size', 8),
            scope=self.scope,
            ignored_layers=self.hook.get('ignored_layers', ()))
        if name in self.results['runs']:  # a kept run keeps its ratio
            print(f'compare_pruners: {name} done before, kept')
        else:
            self.train(name, run, peer)
            self.results['runs'][name].update(
                pruning_ratio=ratio, round=round_index)
            self.save()
        return name

    def corrected_ratio(self, key: str, ratio: float,
                        measured: float) -> float:
        """The next round's ratio: the one-shot calibration shifted by
        what iterative pruning did differently.

        If the runs at ``ratio`` measured ``measured``, which the one-shot
        trials reach at ratio ``r_m``, iterative pruning behaves like
        one-shot pruning at ``ratio + (r_m - ratio)``; the next round moves
        ``ratio`` by the one-shot distance between ``r_m`` and the ratio
        that reaches the target.
        """
        calibration = self.results['calibration'][key]
        trials = calibration['trials']
        at_measured = interpolate_ratio(trials, measured)[0]
        at_target = interpolate_ratio(trials,
                                      calibration['target_latency'])[0]
        return min(max(ratio - (at_measured - at_target), 0.0), 0.95)

    # latency ---------------------------------------------------------------
    def dense_model(self) -> torch.nn.Module:
        return init_model(self.cfg, self.cfg.load_from).eval()

    def measure(self, models: List[torch.nn.Module]) -> List[float]:
        """Latency ratios of ``models[1:]`` to ``models[0]``, interleaved."""
        if self.args.threads:
            torch.set_num_threads(self.args.threads)
        inputs = torch.randn(self.batch, *self.shape)
        ms = measure_forward_latency([traceable(m, self.scope)
                                      for m in models],
                                     inputs,
                                     repeats=self.args.repeats)
        return [t / ms[0] for t in ms[1:]]

    def slim(self, name: str) -> torch.nn.Module:
        return load_slim_model(
            osp.join(self.results['runs'][name]['work_dir'],
                     SLIM_MODEL_FILE))

    def calibrate(self, key: str, latency: float, group: int) -> float:
        """Torch-Pruning's ratio whose one-shot slim model measures
        ``latency`` of the dense one.

        Two grids of ratios (the whole range, then the bracket around
        ``latency``), each timed in one interleaved run; the measured
        latencies are made non-increasing in the ratio (a running minimum,
        against timing noise) and the ratio is interpolated linearly.
        """
        if key in self.results['calibration']:
            return self.results['calibration'][key]['pruning_ratio']
        dense = self.dense_model()
        summed = self.calibration_gradients(dense)
        points = self.args.calibration_points
        low, high, trials = 0.0, 0.95, []
        for _ in range(2):
            ratios = [
                low + (high - low) * (i + 1) / (points + 1)
                for i in range(points)
            ]
            slims = [self.one_shot(dense, summed, r, group) for r in ratios]
            measured = self.measure([dense] + slims)
            trials += [
                dict(pruning_ratio=r, latency=m)
                for r, m in zip(ratios, measured)
            ]
            print(f'compare_pruners: calibration {key}: ' + ', '.join(
                f'{r:.3f}->{m:.3f}' for r, m in zip(ratios, measured)) +
                f' (want {latency:.3f})', flush=True)
            ratio, low, high = interpolate_ratio(trials, latency)
        self.results['calibration'][key] = dict(
            pruning_ratio=ratio, target_latency=latency, trials=trials)
        self.save()
        return ratio

    def one_shot(self, dense: torch.nn.Module,
                 summed: Dict[str, torch.Tensor], ratio: float,
                 group: int) -> torch.nn.Module:
        """A copy of ``dense`` after one global Torch-Pruning step."""
        candidate = copy.deepcopy(dense)
        peer = TorchPruningPeer(
            candidate, self.shape, ratio, 1,
            self.hook.get('importance', 'taylor'),
            group or self.hook.get('channel_group_size', 8), self.scope,
            self.hook.get('ignored_layers', ()))
        params = dict(candidate.named_parameters())
        peer.gradient_sums = {params[n]: g for n, g in summed.items()}
        peer.step()
        return candidate.eval()

    def calibration_gradients(self,
                              dense: torch.nn.Module) -> Dict[str, torch.Tensor]:
        """Training-loss gradients of ``dense`` summed over a few batches
        (the model and its BatchNorm statistics are left as they were)."""
        count = self.args.calibration_batches or self.hook.get('interval', 40)
        model = copy.deepcopy(dense).train()
        with DefaultScope.overwrite_default_scope(
                self.cfg.get('default_scope', 'mmext')):
            loader = Runner.build_dataloader(
                copy.deepcopy(self.cfg.train_dataloader), seed=0)
        for index, batch in enumerate(loader):
            if index == count:
                break
            data = model.data_preprocessor(batch, True)
            losses = model(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
            loss.backward()
        return {
            n: p.grad.detach().clone()
            for n, p in model.named_parameters() if p.grad is not None
        }

    def measure_target(self, key: str, names: List[str]) -> None:
        """All slim models of one target against dense, in one timing."""
        dense = self.dense_model()
        slims = [self.slim(n) for n in names]
        ratios = self.measure([dense] + slims)
        dense_params = sum(p.numel() for p in dense.parameters())
        for name, slim, ratio in zip(names, slims, ratios):
            run = self.results['runs'][name]
            run['latency'] = ratio
            run['params'] = sum(p.numel() for p in slim.parameters())
        self.results['latency'][key] = dict(
            batch=self.batch,
            repeats=self.args.repeats,
            threads=torch.get_num_threads(),
            dense_params=dense_params)
        self.save()


def tp_run_name(target: float, seed: int, round_index: int) -> str:
    """``tp-0.5_s0`` for the first round, ``tp-0.5_s0_r2`` after."""
    suffix = '' if round_index == 1 else f'_r{round_index}'
    return f'tp-{target:g}_s{seed}{suffix}'


def interpolate_ratio(trials: List[dict],
                      latency: float) -> Tuple[float, float, float]:
    """The pruning ratio at which the measured latency falls to
    ``latency``, and the two trial ratios around it.

    Args:
        trials (list[dict]): ``pruning_ratio`` and measured ``latency``
            (dense = 1.0) of one-shot slim models.
        latency (float): The latency wanted.

    Returns:
        tuple[float, float, float]: The interpolated ratio, and the largest
        trial ratio above ``latency`` and the smallest at or below it (0 or
        0.95 when none is).
    """
    ordered = sorted(trials, key=lambda t: t['pruning_ratio'])
    points, lowest = [(0.0, 1.0)], 1.0
    for trial in ordered:
        lowest = min(lowest, trial['latency'])
        points.append((trial['pruning_ratio'], lowest))
    for (r0, m0), (r1, m1) in zip(points, points[1:]):
        if m1 <= latency < m0:
            return r0 + (r1 - r0) * (m0 - latency) / (m0 - m1), r0, r1
    if points[-1][1] > latency:
        return points[-1][0], points[-1][0], 0.95
    return points[0][0], 0.0, points[1][0]


def spread(values: List[float]) -> str:
    mean = statistics.mean(values)
    half = (max(values) - min(values)) / 2
    return f'{mean:.3f} ± {half:.3f}' if len(values) > 1 else f'{mean:.3f}'


def table(results: dict, targets: List[Tuple[float, int]],
          seeds: List[int]) -> str:
    """One row per run, a mean row per method, target and Torch-Pruning
    round, and a verdict per target against the round closest to HALP's
    latency."""
    metric = results['metric']
    lines = [
        f'| HALP target | method | seed | measured latency (dense 1.0) | '
        f'params (M) | {metric} |', '|---|---|---:|---:|---:|---:|'
    ]
    verdicts = []
    for target, _ in targets:
        groups = [('HALP', [f'halp-{target:g}_s{s}' for s in seeds])]
        for round_index in range(1, 10):
            names = [tp_run_name(target, s, round_index) for s in seeds]
            if not any(n in results['runs'] for n in names):
                break
            ratio = results['runs'][names[0]].get('pruning_ratio', 0.0)
            groups.append(
                (f'Torch-Pruning, ratio {ratio:.3f}', names))
        means = []
        for label, names in groups:
            runs = [(s, results['runs'].get(n)) for s, n in zip(seeds, names)]
            runs = [(s, r) for s, r in runs if r and 'latency' in r]
            if not runs:
                continue
            for seed, run in runs:
                lines.append(
                    f"| {target:g} | {label} | {seed} | {run['latency']:.3f}"
                    f" | {run['params'] / 1e6:.3f} | {run['metric']:.3f} |")
            metrics = [r['metric'] for _, r in runs]
            latencies = [r['latency'] for _, r in runs]
            means.append((label, statistics.mean(latencies), metrics))
            lines.append(f'| {target:g} | **{label}, mean** | | '
                         f'{spread(latencies)} | | **{spread(metrics)}** |')
        if len(means) > 1 and means[0][0] == 'HALP':
            halp = means[0]
            peer = min(means[1:], key=lambda m: abs(m[1] - halp[1]))
            gap = statistics.mean(halp[2]) - statistics.mean(peer[2])
            seed_spread = max(max(m[2]) - min(m[2]) for m in (halp, peer))
            verdicts.append(
                f'HALP target {target:g}: HALP {gap:+.3f} {metric} over '
                f'{peer[0]} at measured latency {halp[1]:.3f} against '
                f'{peer[1]:.3f} (largest seed spread {seed_spread:.3f})')
    return '\n'.join(lines + [''] + verdicts)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if not cfg.get('load_from'):
        raise SystemExit('compare_pruners: the config has no load_from; '
                         'both pruners start from the dense checkpoint')
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', f'{name}_peers')
    os.makedirs(work_dir, exist_ok=True)
    comparison = Comparison(cfg, args, work_dir)
    targets = [parse_target(t) for t in args.targets]
    for target, group in targets:
        key = f'{target:g}'
        halp = [comparison.halp(target, group, s) for s in args.seeds]
        comparison.measure_target(key, halp)
        latency = statistics.mean(comparison.results['runs'][n]['latency']
                                  for n in halp)
        ratio = comparison.calibrate(key, latency, group)
        peers: List[str] = []
        for round_index in range(1, args.rounds + 1):
            names = [
                comparison.torch_pruning(target, group, s, ratio,
                                         round_index) for s in args.seeds
            ]
            ratio = comparison.results['runs'][names[0]]['pruning_ratio']
            peers += names
            comparison.measure_target(key, halp + peers)
            runs = comparison.results['runs']
            latency = statistics.mean(runs[n]['latency'] for n in halp)
            measured = statistics.mean(runs[n]['latency'] for n in names)
            if abs(measured - latency) <= args.tolerance:
                break
            ratio = comparison.corrected_ratio(key, ratio, measured)
    report = table(comparison.results, targets, args.seeds)
    with open(osp.join(work_dir, 'compare.md'), 'w') as f:
        f.write(report + '\n')
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
