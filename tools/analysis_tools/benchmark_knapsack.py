"""Benchmark mmext's latency knapsack against a HALP-style 0/1 programme.

``mmext.pruning.knapsack.latency_knapsack`` (multiple-choice dynamic
programme over a certified latency grid, numpy) is timed against a
pure-Python O(items x capacity) 0/1 knapsack of the kind used by the HALP
reference implementation, written here from its description and kept only
in this script:

* Items are the channel blocks of every group, most important first. Item
  k of a group weighs its adaptive latency contribution
  ``costs[k] - costs[k - 1]`` integerised as ``round(1000 * c)`` and is
  worth ``round(1e6 * (values[k] - values[k - 1]))``.
* The first block of every group is mandatory (``k = 0`` is forbidden):
  its latency is reserved from the budget before the programme runs.
* Capacity ``round(1000 * remaining budget)``; the table is widened by the
  absolute sum of the negative weights so that residual capacities below
  zero are representable. Two rolling rows of Python ints and a full
  boolean keep-matrix (items x capacity).
* Precedence heuristic: an item is taken only if it is the first of its
  group or the previous item of its group was kept in the best
  sub-solution at the residual capacity. Backtracking starts from the
  capacity.

The reference is a heuristic on rounded weights: its answer may be
suboptimal, or exceed the budget with the real costs. Both answers are
scored with the real (unrounded) values and costs.

Usage::

    python tools/analysis_tools/benchmark_knapsack.py --repeats 7 \
        --ref-repeats 3

Peak memory is measured in a separate traced solve (``tracemalloc``), which
slows the reference down several-fold; the timed solves are untraced.
"""
import argparse
import functools
import math
import os
import platform
import statistics
import subprocess
import tracemalloc
from dataclasses import dataclass
from typing import Callable, List, Tuple

import numpy as np

from mmext.pruning.knapsack import (knapsack_cost, knapsack_value,
                                    latency_knapsack)
from mmext.utils.benchmark import interleaved_times

Solver = Callable[[List[np.ndarray], List[np.ndarray], float], List[int]]


@dataclass
class Instance:
    """One benchmark problem.

    Attributes:
        name (str): Row label.
        values (List[np.ndarray]): Per group (K_g + 1,) cumulative saliency.
        costs (List[np.ndarray]): Per group (K_g + 1,) latency in ms,
            ``inf`` at k = 0.
        budget (float): Latency budget in ms.
    """

    name: str
    values: List[np.ndarray]
    costs: List[np.ndarray]
    budget: float


def make_group(rng: np.random.Generator, choices: int,
               scale: float) -> Tuple[np.ndarray, np.ndarray]:
    """Saliency and latency curves of one group.

    Args:
        rng (np.random.Generator): Random source.
        choices (int): Entries per curve, k = 0..choices - 1.
        scale (float): Latency of the group at full width, roughly, ms.

    Returns:
        Tuple[np.ndarray, np.ndarray]: (choices,) cumulative saliency
        (sorted importances, 0 at k = 0) and latency (staircase with
        noise, non-monotone in places; ``inf`` at k = 0).
    """
    importance = np.sort(rng.exponential(1.0, choices - 1))[::-1]
    values = np.concatenate([[0.0], np.cumsum(importance)])
    k = np.arange(choices)
    a, b = rng.uniform(0.5, 1.5), rng.uniform(1.0, 4.0)
    curve = a * k + b * np.ceil(k / 4) + rng.normal(0.0, 0.4, choices)
    costs = scale * curve / (a * (choices - 1) + b * (choices - 1) / 4)
    costs[0] = math.inf
    return values, costs


def make_instance(name: str, rng: np.random.Generator, choices: List[int],
                  scales: List[float], fraction: float) -> Instance:
    """An instance whose budget is ``fraction`` of the largest latency."""
    groups = [make_group(rng, c, s) for c, s in zip(choices, scales)]
    values = [v for v, _ in groups]
    costs = [c for _, c in groups]
    top = sum(float(c[np.isfinite(c)].max()) for c in costs)
    return Instance(name, values, costs, fraction * top)


def build_instances(seed: int) -> List[Instance]:
    """The (20, 16), (60, 64) and ResNet-50-like instances."""
    rng = np.random.default_rng(seed)
    out = []
    for groups, choices in ((20, 16), (60, 64)):
        out.append(
            make_instance(f'{groups} groups x {choices} choices', rng,
                          [choices] * groups,
                          list(rng.uniform(0.05, 0.25, groups)), 0.5))
    # ResNet-50-like: stem, 16 bottlenecks x 3 convs; wider stages hold
    # more channel blocks and more latency.
    stages = [(3, 8, 0.10), (4, 12, 0.12), (6, 24, 0.14), (3, 32, 0.18)]
    choices, scales = [9], [0.08]
    for blocks, width, latency in stages:
        for _ in range(blocks):
            choices += [width + 1, width + 1, min(4 * width, 32) + 1]
            scales += list(latency * rng.uniform(0.7, 1.3, 3))
    out.append(
        make_instance(f'ResNet-50-like ({len(choices)} groups, 8-32 blocks)',
                      rng, choices, scales, 0.55))
    return out


def reference_knapsack(values: List[np.ndarray], costs: List[np.ndarray],
                       budget: float) -> List[int]:
    """HALP-style pure-Python 0/1 knapsack over channel blocks.

    Args:
        values (List[np.ndarray]): Per group (K_g + 1,) cumulative saliency.
        costs (List[np.ndarray]): Per group (K_g + 1,) latency, ``inf`` at
            k = 0 (the first block is mandatory).
        budget (float): Latency budget.

    Returns:
        List[int]: Blocks kept per group (at least 1).
    """
    items = []  # (group, weight, value, first of its group)
    for g, (vals, cost) in enumerate(zip(values, costs)):
        for k in range(2, len(cost)):
            items.append((g, round(1000 * (cost[k] - cost[k - 1])),
                          round(1e6 * (vals[k] - vals[k - 1])), k == 2))
    capacity = round(1000 * (budget - sum(float(c[1]) for c in costs)))
    shift = sum(-w for _, w, _, _ in items if w < 0)
    width = capacity + shift + 1  # index j is residual capacity j - shift
    prev = [-10**18] * shift + [0] * (capacity + 1)
    keep: List[List[bool]] = []
    for i, (_, w, v, first) in enumerate(items):
        cur = prev[:]
        row = [False] * width
        gate = None if first else keep[i - 1]
        for j in range(max(0, w), min(width, width + w)):
            src = j - w
            if gate is None or gate[src]:
                cand = prev[src] + v
                if cand > cur[j]:
                    cur[j] = cand
                    row[j] = True
        keep.append(row)
        prev = cur
    kept = [1] * len(costs)
    j = capacity + shift
    for i in range(len(items) - 1, -1, -1):
        if keep[i][j]:
            g, w = items[i][0], items[i][1]
            kept[g] += 1
            j -= w
    return kept


def median_seconds(solver: Solver, inst: Instance, repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` solves (no warm-up)."""
    solve = functools.partial(solver, inst.values, inst.costs, inst.budget)
    times = interleaved_times({'solve': solve}, repeats, warmup=0)
    return statistics.median(times['solve'])


def peak_memory(solver: Solver, inst: Instance) -> Tuple[int, List[int]]:
    """Peak traced bytes of one solve, and its answer."""
    tracemalloc.start()
    try:
        choice = solver(inst.values, inst.costs, inst.budget)
        return tracemalloc.get_traced_memory()[1], choice
    finally:
        tracemalloc.stop()


def mib(nbytes: int) -> str:
    return f'{nbytes / 2**20:.1f} MiB'


def score(inst: Instance, choice: List[int]) -> Tuple[float, str]:
    """Real value, and feasibility as 'yes/NO (latency/budget)'."""
    latency = knapsack_cost(inst.costs, choice)
    ok = 'yes' if latency <= inst.budget * (1 + 1e-9) else 'NO'
    return (knapsack_value(inst.values, choice),
            f'{ok} ({latency:.4f}/{inst.budget:.4f})')


def machine() -> str:
    """CPU model and count, Python and numpy versions."""
    model = platform.processor() or 'unknown CPU'
    try:
        lscpu = subprocess.run(['lscpu'], capture_output=True, text=True,
                               check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith('Model name'):
                model = line.split(':', 1)[1].strip()
    except OSError:
        pass
    return (f'{model}, {os.cpu_count()} CPUs (nproc), Python '
            f'{platform.python_version()}, numpy {np.__version__}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed mmext solves per instance (median)')
    parser.add_argument('--ref-repeats', type=int, default=1,
                        help='timed reference solves per instance (median)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rel-tol', type=float, default=1e-3,
                        help="latency_knapsack's certified optimality gap")
    args = parser.parse_args()
    ours_solver = functools.partial(latency_knapsack, rel_tol=args.rel_tol)

    print(f'Machine: {machine()}; seed {args.seed}; '
          f'rel_tol {args.rel_tol:g}\n')
    print('| instance | mmext time | reference time | speed-up | '
          'mmext value | reference value | mmext feasible | '
          'reference feasible | mmext peak mem | reference peak mem |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for inst in build_instances(args.seed):
        ours_mem, ours = peak_memory(ours_solver, inst)
        ref_mem, ref = peak_memory(reference_knapsack, inst)
        ours_t = median_seconds(ours_solver, inst, args.repeats)
        ref_t = median_seconds(reference_knapsack, inst, args.ref_repeats)
        ours_v, ours_ok = score(inst, ours)
        ref_v, ref_ok = score(inst, ref)
        print(f'| {inst.name} | {ours_t * 1e3:.1f} ms | {ref_t:.2f} s | '
              f'{ref_t / ours_t:.0f}x | {ours_v:.3f} | {ref_v:.3f} '
              f'({ref_v / ours_v - 1:+.3%}) | {ours_ok} | {ref_ok} | '
              f'{mib(ours_mem)} | {mib(ref_mem)} |')


if __name__ == '__main__':
    main()
