"""Acquisition scores of AL-SSL (Elezi et al., CVPR 2022,
arXiv 2106.11921, Sec. 3.2).

Each detected box carries its class distribution (``C + 1`` classes,
background last) in the original image and in the horizontally flipped
one. A box's uncertainty is the normalised entropy of its distribution,
its inconsistency the symmetric KL divergence between the two views. An
image scores the maximum over its confident boxes.
"""
import math
from typing import Sequence

import torch
from torch import Tensor

#: Probabilities are clamped to this before the log in :func:`symmetric_kl`.
LOG_EPS = 1e-12


def box_entropy(probs: Tensor) -> Tensor:
    """Normalised entropy of each box's class distribution.

    ``H = -sum_c p_c log p_c / log(C + 1)`` over all ``C + 1`` classes,
    background included, with ``0 log 0 = 0``; it lies in ``[0, 1]``.

    Args:
        probs: ``[K, C + 1]`` distributions (any leading shape works).

    Returns:
        ``[K]`` entropies.
    """
    if probs.dim() == 0 or probs.shape[-1] < 2:
        raise ValueError(f'probs: expected [K, C + 1] with C + 1 >= 2, got '
                         f'{tuple(probs.shape)}')
    entropy = -torch.xlogy(probs, probs).sum(dim=-1)
    return entropy / math.log(probs.shape[-1])


def symmetric_kl(p: Tensor, q: Tensor) -> Tensor:
    """Symmetric KL divergence ``(KL(p || q) + KL(q || p)) / 2`` per row.

    Both logs are taken of the probabilities clamped at ``1e-12``, so a zero
    probability against a non-zero one gives a large finite value rather
    than infinity (terms with a zero weight are zero).

    Args:
        p: ``[K, D]`` distributions.
        q: ``[K, D]`` distributions.

    Returns:
        ``[K]`` divergences.
    """
    if p.shape != q.shape:
        raise ValueError(f'symmetric_kl: p {tuple(p.shape)} and q '
                         f'{tuple(q.shape)} must have the same shape')
    log_p = p.clamp(min=LOG_EPS).log()
    log_q = q.clamp(min=LOG_EPS).log()
    return 0.5 * ((p - q) * (log_p - log_q)).sum(dim=-1)


def image_score(values: Tensor,
                det_scores: Tensor,
                score_thr: float = 0.5) -> Tensor:
    """An image's score: the maximum per-box value over its confident boxes.

    Only boxes whose detection score is at least ``score_thr`` count. An
    image without such a box scores 0, as in the released code (so it is
    not picked by a score ranking).

    Args:
        values: ``[K]`` per-box values (entropy or inconsistency).
        det_scores: ``[K]`` detection scores of the boxes.
        score_thr: Detection score threshold (the paper's 0.5).

    Returns:
        Scalar tensor.
    """
    if values.dim() != 1 or values.shape != det_scores.shape:
        raise ValueError(f'values {tuple(values.shape)} and det_scores '
                         f'{tuple(det_scores.shape)}: expected [K] each')
    kept = values[det_scores >= score_thr]
    if kept.numel() == 0:
        return values.new_zeros(())
    return kept.max()


def _check_lengths(**sequences: Sequence[Tensor]) -> int:
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f'expected one entry per image in each of '
                         f'{list(lengths)}, got lengths {lengths}')
    return next(iter(lengths.values()))


def _stack(scores: Sequence[Tensor]) -> Tensor:
    if len(scores) == 0:
        return torch.zeros(0)
    return torch.stack(list(scores))


def entropy_scores(probs: Sequence[Tensor],
                   det_scores: Sequence[Tensor],
                   score_thr: float = 0.5) -> Tensor:
    """Uncertainty of each image: the maximum box entropy.

    Args:
        probs: Per image, ``[K_i, C + 1]`` distributions of its boxes.
        det_scores: Per image, ``[K_i]`` detection scores.
        score_thr: Detection score threshold, see :func:`image_score`.

    Returns:
        ``[N]`` image scores.
    """
    _check_lengths(probs=probs, det_scores=det_scores)
    return _stack([
        image_score(box_entropy(p), s, score_thr)
        for p, s in zip(probs, det_scores)
    ])


def inconsistency_scores(probs: Sequence[Tensor],
                         flipped_probs: Sequence[Tensor],
                         det_scores: Sequence[Tensor],
                         score_thr: float = 0.5) -> Tensor:
    """Inconsistency of each image: the maximum symmetric KL divergence
    between a box's distribution and its flipped view's.

    Args:
        probs: Per image, ``[K_i, C + 1]`` distributions of its boxes in the
            original view.
        flipped_probs: Per image, ``[K_i, C + 1]`` distributions the flipped
            view gives each of those boxes.
        det_scores: Per image, ``[K_i]`` detection scores (original view).
        score_thr: Detection score threshold, see :func:`image_score`.

    Returns:
        ``[N]`` image scores.
    """
    _check_lengths(
        probs=probs, flipped_probs=flipped_probs, det_scores=det_scores)
    return _stack([
        image_score(symmetric_kl(p, f), s, score_thr)
        for p, f, s in zip(probs, flipped_probs, det_scores)
    ])
