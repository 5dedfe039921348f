"""Mask-wise merging: Panoptic SegFormer's panoptic inference.

Li et al., CVPR 2022 (arXiv 2109.03814), Sec. 3.5, Algorithm 1. Every
candidate mask gets the confidence ``s = p**alpha * q**beta`` (``p`` its
class probability, ``q`` the mean mask value over the pixels above the mask
threshold); candidates are pasted in decreasing ``s`` onto the pixels still
free, skipping those below the confidence threshold or overlapping the
already pasted ones too much. Unlike pixel-wise argmax, a mask never loses
pixels to a lower-ranked mask.
"""
from typing import Tuple

import torch
from torch import Tensor


def mask_quality(masks: Tensor, mask_thr: float = 0.5) -> Tensor:
    """Mean mask value over the pixels above ``mask_thr``.

    The official code divides by ``count + 1`` so that empty masks score 0.

    Args:
        masks: ``[N, H, W]`` soft masks.
        mask_thr: Binarisation threshold.

    Returns:
        ``[N]`` qualities.
    """
    above = (masks > mask_thr).to(masks.dtype)
    return (masks * above).flatten(1).sum(1) / (above.flatten(1).sum(1) + 1)


def merge_masks(masks: Tensor, probs: Tensor, labels: Tensor,
                is_thing: Tensor, num_classes: int,
                thing_score_thr: float = 0.25, stuff_score_thr: float = 0.25,
                thing_overlap_thr: float = 0.4,
                stuff_overlap_thr: float = 0.2, mask_thr: float = 0.5,
                alpha: float = 1.0, beta: float = 2.0,
                instance_offset: int = 1000) -> Tuple[Tensor, Tensor]:
    """Paste candidate masks into one panoptic map.

    Args:
        masks: ``[N, H, W]`` soft masks at output resolution.
        probs: ``[N]`` class probabilities ``p``.
        labels: ``[N]`` contiguous labels (things first, then stuff).
        is_thing: ``[N]`` bool.
        num_classes: Things + stuff; also the VOID value.
        thing_score_thr, stuff_score_thr: Confidence thresholds.
        thing_overlap_thr, stuff_overlap_thr: Largest fraction of a
            candidate's mask that may already be taken.
        mask_thr: Binarisation threshold.
        alpha, beta: Exponents of ``p`` and ``q`` in the confidence.
        instance_offset: mmdet's ``INSTANCE_OFFSET``.

    Returns:
        ``(panoptic, scores)``: ``[H, W]`` int64 map with mmdet's encoding
        (stuff ``label``, thing ``label + k * instance_offset`` with
        ``k = 1, 2, ...``, VOID ``num_classes``), and the ``[N]`` confidences.
    """
    height, width = masks.shape[-2:]
    scores = probs.pow(alpha) * mask_quality(masks, mask_thr).pow(beta)
    panoptic = torch.full((height, width), num_classes, dtype=torch.long,
                          device=masks.device)
    taken = torch.zeros((height, width), dtype=torch.bool,
                        device=masks.device)
    instance_id = 0
    for index in scores.argsort(descending=True).tolist():
        thing = bool(is_thing[index])
        if scores[index] < (thing_score_thr if thing else stuff_score_thr):
            continue
        binary = masks[index] > mask_thr
        area = int(binary.sum())
        if area == 0:
            continue
        overlap = int((binary & taken).sum()) / area
        if overlap > (thing_overlap_thr if thing else stuff_overlap_thr):
            continue
        fresh = binary & ~taken
        label = int(labels[index])
        if thing:
            instance_id += 1
            panoptic[fresh] = label + instance_id * instance_offset
        else:
            panoptic[fresh] = label
        taken |= fresh
    return panoptic, scores
