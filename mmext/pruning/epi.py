"""EPI: when to prune, from the stability of the dominant sub-network.

Shen, Molchanov, Yin, Alvarez, "When to Prune? A Policy towards Early
Structural Pruning", CVPR 2022 (arXiv 2110.12007). During dense training,
each epoch ranks all prunable channels globally and removes the lowest
fraction: the survivors' counts per coupled group are the architecture
``A_t`` of the dominant sub-network. Two architectures are compared by::

    d_g(A, B) = |a_g - b_g| / (a_g + b_g)        (0 when both are 0)
    psi(A, B) = 1 - mean_g d_g(A, B)

and the Early Pruning Indicator is the mean similarity of the newest
architecture to the ``window`` before it. Pruning fires at the first epoch
whose EPI is at least ``tau`` and not below any of its previous
``patience`` values (:func:`should_prune`). No official code exists
(NVlabs/EPI hosts the project page only); the formulas are those that
third-party reimplementations give as the paper's Eqs. (4)-(6).
"""
from typing import Dict, List, Mapping, Sequence

import torch

from .graph import ChannelGroup

Architecture = Sequence[int]


def architecture_similarity(a: Architecture, b: Architecture) -> float:
    """``psi(A, B) = 1 - mean_g |a_g - b_g| / (a_g + b_g)``.

    Args:
        a (Sequence[int]): Kept channels per coupled group.
        b (Sequence[int]): The same, for another architecture.

    Returns:
        float: In [0, 1]; 1 for identical architectures.

    Raises:
        ValueError: If the lengths differ, a count is negative, or there
            are no groups.
    """
    if len(a) != len(b):
        raise ValueError(f'architectures have {len(a)} and {len(b)} '
                         'groups; compare architectures of the same model')
    if not len(a):
        raise ValueError('architectures have no groups')
    distance = 0.0
    for x, y in zip(a, b):
        if x < 0 or y < 0:
            raise ValueError(f'channel counts must be >= 0, got {x}, {y}')
        if x + y:
            distance += abs(x - y) / (x + y)
    return 1.0 - distance / len(a)


def epi_score(history: Sequence[Architecture], window: int) -> float:
    """EPI of the newest architecture: mean similarity to the ``window``
    architectures before it.

    Args:
        history (Sequence[Sequence[int]]): Architectures, oldest first.
        window (int): r, the number of previous architectures (>= 1).

    Returns:
        float: ``mean_{j=1..r} psi(A_t, A_{t-j})``.

    Raises:
        ValueError: If the history has fewer than ``window + 1`` entries.
    """
    if window < 1:
        raise ValueError(f'window must be >= 1, got {window}')
    if len(history) < window + 1:
        raise ValueError(f'EPI with window={window} needs {window + 1} '
                         f'architectures, got {len(history)}')
    newest = history[-1]
    return sum(
        architecture_similarity(newest, history[-1 - j])
        for j in range(1, window + 1)) / window


def should_prune(scores: Sequence[float],
                 tau: float,
                 patience: int,
                 strict: bool = False) -> bool:
    """EPI's trigger on the newest score.

    Third-party summaries of the paper state the second condition strictly
    (``EPI_t > EPI_{t-j}``), which ``strict=True`` gives. By default mmext
    uses ``>=``: once the dominant architecture stops changing at all, EPI
    saturates at exactly 1.0 and a strict test would never fire on the very
    plateau the method looks for.

    Args:
        scores (Sequence[float]): EPI values, oldest first.
        tau (float): Threshold (0.983 magnitude / 0.944 Taylor for
            ResNet-50 as third-party reimplementations give the paper's
            values; the paper selects one per network and criterion).
        patience (int): The newest score must be at least (``strict``:
            above) each of this many previous scores.
        strict (bool): Require ``>`` against the previous scores (that
            strict wording) instead of ``>=``. Defaults to False.

    Returns:
        bool: True when ``scores[-1] >= tau`` and ``scores[-1] >=
        scores[-1 - j]`` (``>`` if ``strict``) for ``j = 1..patience``
        (False while fewer than ``patience + 1`` scores exist).
    """
    if len(scores) < patience + 1:
        return False
    newest = scores[-1]
    previous = scores[-1 - patience:-1]
    rises = all(newest > p for p in previous) if strict else \
        all(newest >= p for p in previous)
    return newest >= tau and rises


def global_ratio_masks(groups: List[ChannelGroup],
                       saliency: Mapping[str, torch.Tensor],
                       pruned_ratio: float) -> Dict[str, torch.Tensor]:
    """The dominant sub-network at a neuron ratio: one global ranking of all
    prunable channels removes the lowest-scoring ``pruned_ratio`` of them
    (each group's best channel always survives).

    Args:
        groups (list[ChannelGroup]): The coupled groups.
        saliency (dict[str, Tensor]): Scores per group channel [C]; the
            scores of different groups must be comparable (magnitude
            normalised by ``sqrt(P)``, or BN-Taylor).
        pruned_ratio (float): Fraction of channels removed, in [0, 1).

    Returns:
        dict[str, Tensor]: Group key to a bool keep mask [C].

    Raises:
        ValueError: If ``pruned_ratio`` is outside [0, 1).
    """
    if not 0 <= pruned_ratio < 1:
        raise ValueError(
            f'pruned_ratio must be in [0, 1), got {pruned_ratio}')
    scores = torch.cat([saliency[g.key].detach().cpu().double()
                        for g in groups])
    protected = torch.zeros_like(scores, dtype=torch.bool)
    start = 0
    for group in groups:
        block = scores[start:start + group.num_channels]
        protected[start + int(block.argmax())] = True
        start += group.num_channels
    num_removed = min(int(pruned_ratio * scores.numel()),
                      int((~protected).sum()))
    order = torch.argsort(
        scores.masked_fill(protected, float('inf')), stable=True)
    keep = torch.ones_like(scores, dtype=torch.bool)
    keep[order[:num_removed]] = False
    return dict(
        zip([g.key for g in groups],
            torch.split(keep, [g.num_channels for g in groups])))


def architecture(groups: Sequence[ChannelGroup],
                 keep: Mapping[str, torch.Tensor]) -> List[int]:
    """``A = (n_1, ..., n_G)``: kept channels per group, in group order."""
    return [int(keep[g.key].sum()) for g in groups]
