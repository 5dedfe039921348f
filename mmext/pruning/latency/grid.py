"""Which channel counts a latency table measures.

HALP (Shen et al., arXiv:2110.10811) measures each layer at the channel
counts pruning can reach (its tables step by 2 channels) and reads the
others from the table. :func:`channel_grid` picks the counts of one axis,
:func:`latency_jobs` one grid per key family for
:func:`~.timing.build_lut`.
"""
import math
from typing import Dict, Iterable, List, Sequence, Tuple

from .keys import CONV, LayerSignature

__all__ = ['channel_grid', 'latency_jobs', 'Job']

#: (a layer of the family, cin values, cout values) to measure.
Job = Tuple[LayerSignature, Sequence[int], Sequence[int]]


def channel_grid(full: int, step: int, max_points: int) -> List[int]:
    """Channel counts to measure a layer at.

    Args:
        full (int): the layer's full channel count, ``>= 1``.
        step (int): grid step (e.g. HALP's neuron group size), ``>= 1``.
        max_points (int): most values returned, ``>= 2``.

    Returns:
        List[int]: ascending multiples of ``step`` below ``full``, and
        ``full``, thinned to about evenly spaced ``max_points`` values;
        the smallest value and ``full`` are always kept.
    """
    if full < 1 or step < 1 or max_points < 2:
        raise ValueError('channel_grid needs full >= 1, step >= 1 and '
                         f'max_points >= 2, got {full}, {step}, {max_points}')
    values = list(range(step, full, step)) + [full]
    if len(values) <= max_points:
        return values
    last = len(values) - 1
    picks = {round(i * last / (max_points - 1)) for i in range(max_points)}
    return [values[i] for i in sorted(picks)]


def latency_jobs(signatures: Iterable[LayerSignature],
                 step: int = 8,
                 max_points: int = 8,
                 epilogue: bool = False) -> List[Job]:
    """One :func:`~.timing.build_lut` job per family the layers belong to.

    Each family is measured on :func:`channel_grid` up to the largest
    channel counts of its layers (a layer's count below ``step`` stays
    exact, e.g. an RGB stem's 3 inputs).

    Args:
        signatures (Iterable[LayerSignature]): the layers, e.g. the values
            of :func:`~.tracing.collect_layer_signatures` for several
            models.
        step (int): channel grid step. Defaults to 8.
        max_points (int): grid values per channel axis. Defaults to 8.
        epilogue (bool): also measure every convolution as a Conv2d +
            BatchNorm2d + ReLU unit (:meth:`LayerSignature.unit`), on the
            same grid. Defaults to False.

    Returns:
        List[Tuple[LayerSignature, List[int], List[int]]]: (a layer of the
        family, cin values, cout values).
    """
    largest: Dict[str, Tuple[LayerSignature, int, int]] = {}
    signatures = list(signatures)
    if epilogue:
        signatures += [s.unit() for s in signatures if s.kind == CONV]
    for sig in signatures:
        family = sig.shape_key()
        _, cin, cout = largest.get(family, (sig, 0, 0))
        largest[family] = (sig, max(cin, sig.in_channels),
                           max(cout, sig.out_channels))
    jobs: List[Job] = []
    for sig, cin, cout in largest.values():
        grid_step = step if sig.channelwise else math.lcm(step, sig.groups)
        jobs.append((sig, channel_grid(cin, grid_step, max_points),
                     channel_grid(cout, grid_step, max_points)))
    return jobs
