"""Validate the latency model of :mod:`mmext.pruning.latency` on whole
networks.

Networks: ResNet-18 and ResNet-50 classifiers (mmdet's ``ResNet(depth,
base_channels=w)`` backbone + global average pooling + ``Linear(., 1000)``)
at the uniform widths ``--widths``, at ``--pruned`` non-uniform widths
(random channels of the width-64 network removed with Torch-Pruning, a
random kept fraction per coupled channel group, rounded to a multiple of
``--round-to`` like HALP's neuron groups) and at ``--any-pruned``
non-uniform widths with arbitrary channel counts.

The tool

1. collects the layer signatures of every network (one forward with hooks,
   pooling layers included),
2. in ``--rounds`` interleaved rounds, measures every point of a latency
   LUT of the needed layer families, convolutions both alone and as
   Conv2d + BatchNorm2d + ReLU units
   (:func:`~mmext.pruning.latency.latency_jobs`, a
   :func:`~mmext.pruning.latency.channel_grid` of ``--points`` values per
   channel axis; one resumable cache per round under ``--work-dir``) and
   then calls every network ``--calls`` times, so that the LUT and the
   networks see the same load on a shared machine,
3. takes the per-key median LUT over the rounds and, per network,
   :func:`~mmext.pruning.latency.median_of_minima` of its calls,
4. prints a markdown table of measured and predicted latency, with the
   absolute error and the error relative to the dense width-64 network of
   the same depth:

   * ``plain``: HALP's model, the LUT sum over the Conv2d and Linear
     layers;
   * ``extended``: every convolution timed with its ``BatchNorm2d +
     ReLU`` as one unit, plus the Linear and MaxPool2d layers.

Usage::

    python tools/analysis_tools/benchmark_latency_model.py --threads 2
"""
import argparse
import datetime
import functools
import json
import os
import os.path as osp
import platform
import random
import time
from typing import Dict, List, Tuple

import torch
from torch import nn

from mmext.pruning.latency import (LatencyLUT, LatencyModel, LayerSignature,
                                   build_lut, collect_layer_signatures,
                                   device_fingerprint, latency_jobs,
                                   median_of_minima)
from mmext.utils.benchmark import interleaved_rounds

CONV_KINDS = ('conv', 'linear')


class ResNetClassifier(nn.Module):
    """mmdet ResNet backbone + GAP + Linear head.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        width (int): ``base_channels`` (64 in the standard ResNets).
        num_classes (int): head outputs. Defaults to 1000.
    """

    def __init__(self, depth: int, width: int, num_classes: int = 1000):
        super().__init__()
        from mmdet.models.backbones import ResNet
        self.backbone = ResNet(depth, base_channels=width, out_indices=(3, ))
        expansion = 1 if depth < 50 else 4
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) images -> (N, num_classes) logits."""
        return self.fc(self.pool(self.backbone(x)[-1]).flatten(1))


def random_prune(model: nn.Module, example: torch.Tensor, seed: int,
                 ratios: Tuple[float, float], round_to: int) -> nn.Module:
    """Physically remove random channels of every coupled group.

    Args:
        model (nn.Module): pruned in place (the fc outputs are kept).
        example (torch.Tensor): (N, 3, H, W) input for tracing.
        seed (int): RNG seed for the ratios and channels.
        ratios (Tuple[float, float]): uniform range of the pruned fraction
            per group.
        round_to (int): kept channels per group are a multiple of this
            (HALP's neuron group size).

    Returns:
        nn.Module: ``model``.
    """
    import torch_pruning as tp
    rng = random.Random(seed)
    graph = tp.DependencyGraph().build_dependency(model, example)
    roots = [group[0].dep.target.module for group in graph.get_all_groups(
        ignored_layers=[model.fc], root_module_types=[nn.Conv2d])]
    for conv in roots:
        channels = conv.out_channels
        keep = channels * (1 - rng.uniform(*ratios))
        keep = min(max(round(keep / round_to), 1) * round_to, channels)
        idxs = rng.sample(range(channels), channels - keep)
        group = graph.get_pruning_group(conv, tp.prune_conv_out_channels,
                                        idxs=idxs)
        if idxs and graph.check_pruning_group(group):
            group.prune()
    return model


def build_networks(args) -> Dict[Tuple[str, str], nn.Module]:
    """(model name, width label) -> eval-mode network."""
    example = torch.randn(1, 3, args.size, args.size)
    nets = {}
    for depth in args.depths:
        for width in args.widths:
            nets[(f'ResNet-{depth}', str(width))] = ResNetClassifier(
                depth, width)
        variants = [args.round_to] * args.pruned + [1] * args.any_pruned
        for index, round_to in enumerate(variants):
            net = random_prune(ResNetClassifier(depth, 64), example,
                               args.seed + 1000 * depth + index, (0.1, 0.8),
                               round_to)
            label = f'random #{index + 1}, x{round_to}'
            nets[(f'ResNet-{depth}', label)] = net
    for net in nets.values():
        net.eval()
    return nets


def interleaved_measurements(
        args, jobs, nets: Dict[tuple, nn.Module], example: torch.Tensor,
        lut_dir: str) -> Tuple[LatencyLUT, Dict[tuple, List[List[float]]]]:
    """Measure the LUT and the networks in ``args.rounds`` interleaved
    rounds, so both see the same load on a shared machine.

    Each round measures every LUT point (one cache file per round, resumed
    if present) and then calls every network ``args.calls`` times
    (:func:`mmext.utils.benchmark.interleaved_rounds`, which warms every
    network up ``args.warmup`` times first).

    Returns:
        Tuple[LatencyLUT, Dict[tuple, List[List[float]]]]: the per-key
        median LUT, and per network the milliseconds of each call, grouped
        by round.
    """
    times: Dict[tuple, List[List[float]]] = {name: [] for name in nets}
    luts = []
    forwards = {
        name: functools.partial(net, example)
        for name, net in nets.items()
    }
    with torch.no_grad():
        rounds = interleaved_rounds(forwards, args.rounds, calls=args.calls,
                                    warmup=args.warmup)
        for index in range(args.rounds):
            luts.append(build_lut(
                jobs, osp.join(lut_dir, f'round{index}.json'), batch=1,
                warmup=args.lut_warmup, repeats=args.lut_repeats,
                resume=not args.rebuild, progress=False))
            for name, seconds in next(rounds).items():
                times[name].append([s * 1e3 for s in seconds])
            print(f'round {index + 1}/{args.rounds} done', flush=True)
    return LatencyLUT.median(luts), times


def predictions(signatures: Dict[str, LayerSignature],
                lut: LatencyLUT) -> Dict[str, float]:
    """Predicted milliseconds of HALP's ``plain`` model (Conv2d and Linear
    layers) and of the ``extended`` one (Conv2d + BatchNorm2d + ReLU units,
    Linear and pooling layers)."""
    layers = {n: s for n, s in signatures.items() if s.kind in CONV_KINDS}
    return dict(
        plain=LatencyModel(lut, layers).predict(epilogue=False),
        extended=LatencyModel(lut, signatures).predict(epilogue=True))


def error(predicted: float, measured: float) -> float:
    """Relative error in percent."""
    return 100.0 * (predicted - measured) / measured


def print_table(measured: Dict[tuple, float],
                preds: Dict[tuple, Dict[str, float]]) -> None:
    """Markdown table: per model, the absolute error and the error
    relative to the dense width-64 network of the same depth (prediction
    and measurement both divided by the dense network's), which is what a
    latency budget given as a fraction of the dense latency sees."""
    models = ('plain', 'extended')
    print('| model | width | measured ms | ' + ' | '.join(
        f'{m} ms | {m} err % | {m} rel. err %' for m in models) + ' |')
    print('|---|---|---|' + '---|---|---|' * len(models))
    for name, pred in preds.items():
        dense = (name[0], '64')
        cells = [name[0], name[1], f'{measured[name]:.2f}']
        for model in models:
            rel = float('nan')
            if dense in preds:
                rel = error(pred[model] / preds[dense][model],
                            measured[name] / measured[dense])
            cells += [f'{pred[model]:.2f}',
                      f'{error(pred[model], measured[name]):+.1f}',
                      f'{rel:+.1f}']
        print('| ' + ' | '.join(cells) + ' |')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depths', nargs='+', type=int, default=[18, 50])
    parser.add_argument('--widths', nargs='+', type=int,
                        default=[64, 48, 32, 16])
    parser.add_argument('--pruned', type=int, default=2,
                        help='random non-uniform widths per depth whose '
                        'kept channels are multiples of --round-to')
    parser.add_argument('--round-to', type=int, default=8)
    parser.add_argument('--any-pruned', type=int, default=1,
                        help='random non-uniform widths per depth with '
                        'arbitrary channel counts')
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--step', type=int, default=8,
                        help='channel grid step of the LUT')
    parser.add_argument('--points', type=int, default=6,
                        help='LUT grid values per channel axis')
    parser.add_argument('--rounds', type=int, default=20,
                        help='interleaved rounds of LUT and network timing')
    parser.add_argument('--lut-warmup', type=int, default=2)
    parser.add_argument('--lut-repeats', type=int, default=5,
                        help='timed calls per LUT point and round')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--calls', type=int, default=3,
                        help='timed calls per network and round')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default=None,
                        help='LUT caches and results (default '
                        'work_dirs/latency/resnet_cpu_t{threads}_{size}px)')
    parser.add_argument('--rebuild', action='store_true',
                        help='measure the LUT anew instead of resuming')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'latency', f'resnet_cpu_t{args.threads}_{args.size}px')
    example = torch.randn(1, 3, args.size, args.size)
    nets = build_networks(args)
    signatures = {
        name: collect_layer_signatures(net, example, pools=True)
        for name, net in nets.items()
    }
    jobs = latency_jobs(
        [s for sigs in signatures.values() for s in sigs.values()],
        step=args.step, max_points=args.points, epilogue=True)
    start = time.perf_counter()
    lut, times = interleaved_measurements(args, jobs, nets, example,
                                          work_dir)
    measured = {name: median_of_minima(t) for name, t in times.items()}
    minutes = (time.perf_counter() - start) / 60
    lut.save(osp.join(work_dir, 'lut_median.json'))
    preds = {name: predictions(signatures[name], lut) for name in nets}
    with open(osp.join(work_dir, 'results.json'), 'w') as file:
        json.dump([dict(model=m, width=w, measured=measured[(m, w)],
                        calls=times[(m, w)], **preds[(m, w)])
                   for m, w in nets], file, indent=1)

    print(f'\n# {datetime.date.today()}, {device_fingerprint("cpu")}, '
          f'{platform.machine()}, batch 1, {args.size}x{args.size}, '
          f'load average {os.getloadavg()[0]:.2f}')
    print(f'# LUT: {len(lut.entries)} points, grid step {args.step}, '
          f'{args.points} values/axis; {args.rounds} interleaved rounds of '
          f'(LUT: median of {args.lut_repeats} calls per point; networks: '
          f'fastest of {args.calls} calls), medians over rounds; '
          f'{minutes:.1f} min\n')
    print_table(measured, preds)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
