"""Variance cost volume (MVSNet's aggregation, used at every level of
CVP-MVSNet: Yang et al., CVPR 2020, arXiv:1912.08329, Eq. 2)."""
from typing import Iterable

import torch
from torch import Tensor

__all__ = ['variance_volume']


def variance_volume(ref_features: Tensor,
                    warped_volumes: Iterable[Tensor],
                    reference_quirk: bool = False,
                    overwrite_warped: bool = False) -> Tensor:
    """Per-element variance over the reference and the warped source views.

    ``C = sum_i V_i^2 / N - (sum_i V_i / N)^2`` over the ``N = 1 + n_src``
    volumes, the reference broadcast along depth; equal to ``torch.var(...,
    unbiased=False)`` over the stacked views. ``warped_volumes`` is consumed
    once and may be a generator, so only running sums are held.

    Args:
        ref_features (Tensor): ``[B, C, H, W]``.
        warped_volumes (Iterable[Tensor]): At least one ``[B, C, D, H, W]``
            per source view.
        reference_quirk (bool): Reproduce the released CVP-MVSNet code,
            whose running sum starts from the reference volume after it was
            squared in place (``pow_`` on a tensor the sum aliases), so the
            mean term uses ``ref^2`` instead of ``ref``:
            ``C = (ref^2 + sum w^2) / N - ((ref^2 + sum w) / N)^2``.
        overwrite_warped (bool): The warped volumes are the caller's to
            lose (e.g. a generator of fresh ones): without autograd they
            are squared in place, the first one becoming the running sum
            of squares. Default False: they are left as given.

    Without autograd (``torch.no_grad``) both running sums are updated in
    place and each warped volume is dropped before the next is taken, so
    with ``overwrite_warped`` at most three full volumes are alive (the two
    sums and the newest warped volume); the operations and so the result,
    to the last bit, are those of the autograd path.

    Returns:
        Tensor: ``[B, C, D, H, W]``.
    """
    ref = ref_features.unsqueeze(2)  # [B, C, 1, H, W], broadcast over D
    ref_sq = ref**2
    if not torch.is_grad_enabled():
        return _variance_in_place(ref_sq if reference_quirk else ref, ref_sq,
                                  warped_volumes, overwrite_warped)
    total = ref_sq if reference_quirk else ref
    total_sq = ref_sq
    count = 1
    for warped in warped_volumes:
        total = total + warped
        total_sq = total_sq + warped**2
        count += 1
    if count == 1:
        raise ValueError('warped_volumes: need at least one source view')
    return total_sq / count - (total / count)**2


def _variance_in_place(ref_term: Tensor, ref_sq: Tensor,
                       warped_volumes: Iterable[Tensor],
                       overwrite: bool) -> Tensor:
    """:func:`variance_volume` without autograd, the sums in place."""
    total = total_sq = None
    count = 1
    for warped in warped_volumes:
        if total is None:
            total = ref_term + warped
        else:
            total.add_(warped)
        square = warped.pow_(2) if overwrite else warped**2
        if total_sq is None:
            total_sq = square.add_(ref_sq)
        else:
            total_sq.add_(square)
        del warped, square  # before the generator makes the next one
        count += 1
    if total is None:
        raise ValueError('warped_volumes: need at least one source view')
    total_sq.div_(count)
    return total_sq.sub_(total.div_(count).pow_(2))
