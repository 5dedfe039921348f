"""HALP's pruning step: choose how many channels each group keeps.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv 2110.10811) ranks the active channels of every group by
saliency, cuts them into blocks of ``block_size`` channels in that order, and
solves a knapsack: keep the top ``k`` blocks of each group so that the summed
saliency is largest and the network latency stays within the step's target.
The cost of keeping ``n`` channels of a group is the latency of its producing
layers with ``n`` output channels, read from the latency table with their
input channels frozen at the current network (the "adaptive latency
contribution" of the paper: the latency curve itself, staircase and all);
layers that no prunable group produces are a constant. Keeping at least one
block per group is enforced, so a network never loses a whole coupled group.

The exact multiple-choice solver (:func:`mmext.pruning.knapsack.
latency_knapsack`) replaces the reference's heuristic 0/1 dynamic programme.
"""
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import torch

from .graph import CONSUMER, PRODUCER, ChannelGroup
from .knapsack import latency_knapsack
from .latency import LatencyModel, LayerSignature
from .masks import width_masks

Channels = Dict[str, Tuple[int, int]]


def layer_channels(groups: List[ChannelGroup],
                   keep: Mapping[str, torch.Tensor],
                   signatures: Mapping[str, LayerSignature]) -> Channels:
    """Active (input, output) channels of every timed layer under ``keep``.

    Args:
        groups (list[ChannelGroup]): The prunable groups.
        keep (dict[str, Tensor]): Group key to bool mask [C].
        signatures (dict[str, LayerSignature]): The timed layers.

    Returns:
        dict[str, tuple[int, int]]: Layer name to (cin, cout).
    """
    dropped_out: Dict[str, int] = defaultdict(int)
    dropped_in: Dict[str, int] = defaultdict(int)
    for group in groups:
        dropped = ~keep[group.key]
        for member in group.members:
            count = int(dropped[member.group_index].sum())
            if member.role == PRODUCER:
                dropped_out[member.name] += count
            elif member.role == CONSUMER:
                dropped_in[member.name] += count
    channels = {}
    for name, sig in signatures.items():
        cout = sig.out_channels - dropped_out[name]
        cin = cout if sig.channelwise else sig.in_channels - dropped_in[name]
        channels[name] = (cin, cout)
    return channels


def network_latency(groups: List[ChannelGroup],
                    keep: Mapping[str, torch.Tensor],
                    latency: LatencyModel) -> float:
    """Predicted latency (ms) of the network under ``keep``.

    Args:
        groups (list[ChannelGroup]): The prunable groups.
        keep (dict[str, Tensor]): Group key to bool mask [C].
        latency (LatencyModel): The table and the timed layers.

    Returns:
        float: Milliseconds.
    """
    return latency.predict(layer_channels(groups, keep, latency.signatures))


@dataclass
class Allocation:
    """The outcome of one pruning step.

    Attributes:
        keep (dict[str, Tensor]): New bool masks [C] per group.
        blocks (list[int]): Blocks kept per group (knapsack choice).
        latency (float): Predicted latency after the step (ms), with every
            layer's input channels updated.
        met_target (bool): False when the target was below the smallest
            latency reachable this step; one block per group was kept.
    """

    keep: Dict[str, torch.Tensor]
    blocks: List[int]
    latency: float
    met_target: bool


@dataclass
class _GroupOptions:
    order: torch.Tensor  # active channels, most salient first, [m]
    kept_counts: List[int]  # channels kept by choice k = 1..K
    values: List[float]  # k = 0..K
    costs: List[float]  # k = 0..K


def ranked_active(keep: torch.Tensor,
                  saliency: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Active channels, most salient first, and their sorted scores.

    Args:
        keep (Tensor): Bool mask [C].
        saliency (Tensor): Scores [C].

    Returns:
        tuple[Tensor, Tensor]: Channel indices [m] (int64) and scores [m]
        (float64), in descending score order (ties by index).
    """
    active = keep.nonzero().flatten()
    scores = saliency.double()[active]
    ranking = torch.sort(scores, descending=True, stable=True).indices
    return active[ranking], scores[ranking]


def _masks_from_counts(groups: List[ChannelGroup],
                       orders: List[torch.Tensor],
                       counts: List[int]) -> Dict[str, torch.Tensor]:
    keep = {}
    for group, order, count in zip(groups, orders, counts):
        mask = torch.zeros(group.num_channels, dtype=torch.bool)
        mask[order[:count]] = True
        keep[group.key] = mask
    return keep


def _group_options(group: ChannelGroup, keep: torch.Tensor,
                   saliency: torch.Tensor, block_size: int,
                   channels: Channels,
                   latency: LatencyModel) -> _GroupOptions:
    """Values and costs of keeping k = 0..K blocks of one group.

    ``channels`` are the current (cin, cout) of every layer; the producers'
    input channels stay frozen at them (HALP's per-layer latency
    contribution).
    """
    order, sorted_scores = ranked_active(keep, saliency)
    num_active = int(order.numel())
    kept_counts = [
        min(k * block_size, num_active)
        for k in range(1, math.ceil(num_active / block_size) + 1)
    ]
    cumulative = torch.cumsum(sorted_scores, 0).tolist()
    values = [0.0] + [cumulative[n - 1] for n in kept_counts]
    # rank of each group channel among the active ones (inactive: -1)
    rank = torch.full((group.num_channels, ), -1, dtype=torch.long)
    rank[order] = torch.arange(num_active)
    costs = [math.inf]
    for n_kept in kept_counts:
        cost = 0.0
        for member in group.producers:
            sig = latency.signatures.get(member.name)
            if sig is None:
                continue
            dropped = int((rank[member.group_index] >= n_kept).sum())
            cout = channels[member.name][1] - dropped
            cin = cout if sig.channelwise else channels[member.name][0]
            cost += latency.layer_cost(member.name, cin, cout)
        costs.append(cost)
    return _GroupOptions(order, kept_counts, values, costs)


def _candidate(groups: List[ChannelGroup], options: List[_GroupOptions],
               blocks: Sequence[int], latency: LatencyModel) -> Allocation:
    keep = _masks_from_counts(
        groups, [o.order for o in options],
        [o.kept_counts[k - 1] for o, k in zip(options, blocks)])
    return Allocation(keep, list(blocks),
                      network_latency(groups, keep, latency), True)


def allocate(groups: List[ChannelGroup],
             keep: Mapping[str, torch.Tensor],
             saliency: Mapping[str, torch.Tensor],
             target: float,
             block_size: int,
             latency: LatencyModel,
             refinements: int = 12) -> Allocation:
    """One HALP pruning step.

    The knapsack prices every group with its producers' input channels
    frozen at the current network, as HALP does. That overestimates the
    latency of a solution in which neighbouring groups shrink together
    (their consumers' inputs shrink too), more so the larger the step. So
    the knapsack budget is then raised by bisection, ``refinements`` times,
    to the largest budget whose solution still meets the target when its
    latency is recomputed with every layer's real input channels. The
    result never exceeds the target unless the target is unreachable.

    Args:
        groups (list[ChannelGroup]): The prunable groups.
        keep (dict[str, Tensor]): Current bool masks [C]; pruned channels
            never come back.
        saliency (dict[str, Tensor]): Score per group channel [C].
        target (float): Latency target of this step (ms).
        block_size (int): Channels per knapsack item (HALP's neuron group
            size); a group's last block may be smaller.
        latency (LatencyModel): The latency table and the timed layers.
        refinements (int): Bisection steps on the budget; 0 is the
            reference's single solve. Defaults to 12.

    Returns:
        Allocation: The new masks and their predicted latency.
    """
    channels = layer_channels(groups, keep, latency.signatures)
    produced = {m.name for g in groups for m in g.producers}
    constant = sum(
        latency.layer_cost(name, *channels[name])
        for name in latency.signatures if name not in produced)
    options = [
        _group_options(g, keep[g.key], saliency[g.key], block_size,
                       channels, latency) for g in groups
    ]
    values = [o.values for o in options]
    costs = [o.costs for o in options]
    floor = sum(min(c) for c in costs)
    if floor > target - constant:
        warnings.warn(
            f'pruning step: latency target {target:.4g} ms is below the '
            f'{floor + constant:.4g} ms this step can reach; keeping one '
            'block of every group')
        best = _candidate(groups, options, [1] * len(options), latency)
        best.met_target = False
        return best
    best = _candidate(groups, options,
                      latency_knapsack(values, costs, target - constant),
                      latency)
    low, high = target - constant, sum(max(c[1:]) for c in costs)
    for _ in range(refinements):
        if high - low <= 1e-6 * max(abs(high), 1.0):
            break
        middle = (low + high) / 2
        candidate = _candidate(groups, options,
                               latency_knapsack(values, costs, middle),
                               latency)
        if candidate.latency <= target:
            low, best = middle, candidate
        else:
            high = middle
    return best


def smallest_latency(groups: List[ChannelGroup], latency: LatencyModel,
                     block_size: int) -> float:
    """Predicted latency with one block of channels left in every group."""
    keep = width_masks(
        groups, {g.key: min(block_size, g.num_channels)
                 for g in groups})
    return network_latency(groups, keep, latency)


def allocate_uniform(groups: List[ChannelGroup],
                     keep: Mapping[str, torch.Tensor],
                     saliency: Mapping[str, torch.Tensor], target: float,
                     block_size: int, latency: LatencyModel) -> Allocation:
    """The uniform-width baseline: one width fraction for every group.

    Every group keeps the same fraction ``f`` of its full width (rounded to
    whole blocks, at least one, never more than it still has), its most
    salient channels; ``f`` is the largest that meets the latency target,
    found by bisection on the predicted latency. Same arguments and result
    as :func:`allocate`.
    """
    ranked = [ranked_active(keep[g.key], saliency[g.key])[0] for g in groups]

    def counts(fraction: float) -> List[int]:
        out = []
        for group, order in zip(groups, ranked):
            blocks = round(fraction * group.num_channels / block_size)
            out.append(
                min(int(order.numel()), max(1, blocks) * block_size))
        return out

    def latency_at(fraction: float) -> float:
        return network_latency(groups,
                               _masks_from_counts(groups, ranked,
                                                  counts(fraction)),
                               latency)

    low, high = 0.0, 1.0
    met_target = latency_at(low) <= target
    if latency_at(high) <= target:
        low = high
    else:
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (middle, high) if latency_at(middle) <= target else (
                low, middle)
    kept_counts = counts(low)
    new_keep = _masks_from_counts(groups, ranked, kept_counts)
    if not met_target:
        warnings.warn(f'uniform pruning step: latency target {target:.4g} '
                      'ms is below one block per group; keeping one block')
    return Allocation(
        keep=new_keep,
        blocks=[math.ceil(c / block_size) for c in kept_counts],
        latency=network_latency(groups, new_keep, latency),
        met_target=met_target)
