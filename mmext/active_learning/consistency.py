"""Flip-consistency loss of CSD (Jeong et al., NeurIPS 2019), which AL-SSL
(Elezi et al., CVPR 2022, arXiv 2106.11921) trains on labelled and
unlabelled images in every active-learning cycle, and its ramp weight.

The detector sees an image and its horizontal mirror; the flipped view's
per-prior outputs are reordered so that prior ``i`` of both views is the
same anchor up to the mirror. The class distributions of the pair should
agree, and so should the box deltas once ``dx`` changes sign.
"""
import math
from typing import Tuple

import torch
from torch import Tensor

from .scores import symmetric_kl


def csd_consistency(probs: Tensor, flipped_probs: Tensor, deltas: Tensor,
                    flipped_deltas: Tensor) -> Tuple[Tensor, Tensor]:
    """CSD classification and localisation consistency of prior pairs.

    Only priors of the original view whose highest foreground probability
    exceeds their background probability are kept (the CSD background
    elimination). Over the ``M`` kept priors:

    - ``cls = mean_i (KL(pf_i || p_i) + KL(p_i || pf_i)) / 2``, the mean
      :func:`~mmext.active_learning.symmetric_kl`;
    - ``loc = (mean (dx + dxf)^2 + mean (dy - dyf)^2 + mean (dw - dwf)^2
      + mean (dh - dhf)^2) / 4``: the mirror negates ``dx``.

    The gradient reaches both views (neither is detached).

    Args:
        probs: ``[P, C + 1]`` class distributions of the original view,
            background last.
        flipped_probs: ``[P, C + 1]``, prior ``i`` being the mirror of the
            original view's prior ``i``.
        deltas: ``[P, 4]`` encoded box deltas ``(dx, dy, dw, dh)`` of the
            original view.
        flipped_deltas: ``[P, 4]`` of the flipped view, paired as
            ``flipped_probs``.

    Returns:
        ``(cls, loc)`` scalars; both exactly 0, attached to the graph of
        all four inputs, when no prior is kept.
    """
    if probs.dim() != 2 or probs.shape[1] < 2 or \
            flipped_probs.shape != probs.shape:
        raise ValueError(
            f'probs {tuple(probs.shape)} and flipped_probs '
            f'{tuple(flipped_probs.shape)}: expected [P, C + 1] each')
    num = probs.shape[0]
    if deltas.shape != (num, 4) or flipped_deltas.shape != (num, 4):
        raise ValueError(
            f'deltas {tuple(deltas.shape)} and flipped_deltas '
            f'{tuple(flipped_deltas.shape)}: expected [{num}, 4] each')
    with torch.no_grad():
        keep = probs[:, :-1].max(dim=1).values > probs[:, -1]
    if not bool(keep.any()):
        zero_cls = (probs.sum() + flipped_probs.sum()) * 0
        zero_loc = (deltas.sum() + flipped_deltas.sum()) * 0
        return zero_cls, zero_loc
    cls = symmetric_kl(probs[keep], flipped_probs[keep]).mean()
    mirror = deltas.new_tensor([-1.0, 1.0, 1.0, 1.0])
    # Every column is averaged over the same kept priors, so the mean of
    # the four column means is the mean over all elements.
    loc = (deltas[keep] - flipped_deltas[keep] * mirror).pow(2).mean()
    return cls, loc


def csd_ramp(step: int, ramp_up: int, ramp_down_start: int,
             total: int) -> float:
    """Weight of the consistency loss at an iteration (CSD's schedule).

    ``0`` at step 0, ``exp(-5 (1 - step / ramp_up)^2)`` before ``ramp_up``,
    ``1`` until ``ramp_down_start``, then
    ``exp(-12.5 (1 - (total - step) / (total - ramp_down_start))^2)``, and
    ``0`` from ``total`` on. AL-SSL uses 32k, 100k and 120k iterations.

    Args:
        step: Iteration within the cycle's training, from 0.
        ramp_up: End of the ramp-up.
        ramp_down_start: Start of the ramp-down.
        total: Number of iterations.

    Returns:
        The weight in ``[0, 1]``.

    Raises:
        ValueError: naming the ``model.ramp`` field at fault unless
            ``0 < ramp_up <= ramp_down_start <= total``.
    """
    if not ramp_up > 0:
        raise ValueError(f'model.ramp.ramp_up={ramp_up}: must be > 0')
    if not ramp_down_start >= ramp_up:
        raise ValueError(
            f'model.ramp.ramp_down_start={ramp_down_start}: must be >= '
            f'ramp_up={ramp_up}')
    if not total >= ramp_down_start:
        raise ValueError(f'model.ramp.total={total}: must be >= '
                         f'ramp_down_start={ramp_down_start}')
    if step <= 0 or step >= total:
        return 0.0
    if step < ramp_up:
        return math.exp(-5.0 * (1.0 - step / ramp_up)**2)
    if step < ramp_down_start:
        return 1.0
    return math.exp(-12.5 *
                    (1.0 - (total - step) / (total - ramp_down_start))**2)
