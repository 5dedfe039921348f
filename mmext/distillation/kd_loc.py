"""Localisation distillation (KD_loc) of DICOD (Guo et al., NeurIPS 2021,
arXiv 2106.05209, Sec. 3.2, Eqs. 8-11).

For each positive box ``k`` the image is cropped twice with the spatial
transformer, under the student's predicted box and under its assigned
ground-truth box; the crops (layer ``-1``, Eq. 11) and the frozen teacher's
features of them (layers ``0, 1, ...``, Eq. 10) are average-pooled to a fixed
size and compared with a per-element L1 distance. The gradient reaches the
predicted boxes through the bilinear sampling; the ground-truth path is
computed without a graph.

How the terms combine follows the released code (the paper leaves it
open): per box, the pixel term plus the mean over the teacher layers, then
the mean over boxes; one loss weight covers both (the paper's Eq. 12 has a
weight each, and the released recipe sets one, 0.15).
"""
from typing import Callable, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .crops import crop_boxes

#: ``teacher(crops [N, 3, s, s], stages) -> [features of each stage]``.
TeacherStages = Callable[[Tensor, Sequence[int]], List[Tensor]]

#: The layer index that means the raw pixels of the crop (Eq. 11).
PIXELS = -1


def _pooled_l1(pred: Tensor, target: Tensor, pool_size: int) -> Tensor:
    """``[N]`` mean absolute difference of the pooled maps, per crop.

    ``target`` is already pooled."""
    pred = F.adaptive_avg_pool2d(pred, pool_size)
    return (pred - target).abs().flatten(1).mean(dim=1)


def kd_loc(teacher: TeacherStages, images: Tensor, pred_boxes: Tensor,
           gt_boxes: Tensor, layers: Sequence[int],
           pool_sizes: Sequence[int], size: int) -> Tensor:
    """Pooled L1 between crops under predicted and ground-truth boxes.

    Args:
        teacher: Maps crops ``[N, 3, size, size]`` and a list of stage
            indices (>= 0) to their feature maps ``[N, C_l, H_l, W_l]``.
            Its parameters must be frozen (``requires_grad=False``): the
            loss then trains only what produced ``pred_boxes``. Not called
            when ``layers`` is ``[-1]``.
        images: ``[B, 3, H, W]`` the detector's input batch.
        pred_boxes: ``[K, 5]`` predicted boxes of the positives as rois
            (batch index, ``x1, y1, x2, y2`` pixels), with their graph.
        gt_boxes: ``[K, 5]`` the assigned ground-truth boxes, same layout.
        layers: Which maps to compare: ``-1`` for the crop's pixels,
            ``i >= 0`` for teacher stage ``i`` (0: the stem). The paper's
            best choice is ``(-1, 0)``.
        pool_sizes: The side ``M`` each layer is pooled to, one per entry of
            ``layers`` (the paper: 4 for pixels, 8 for the stem).
        size: Crop side in pixels (the paper: 112).

    Returns:
        Scalar loss; 0 (attached to the graph) when ``K == 0``.
    """
    layers = [int(layer) for layer in layers]
    if len(layers) == 0 or len(layers) != len(pool_sizes):
        raise ValueError(
            f'kd_loc.pool_sizes: one pool size per layer is needed, got '
            f'layers={layers} and pool_sizes={list(pool_sizes)}')
    if any(layer < PIXELS for layer in layers) or len(set(layers)) != len(
            layers):
        raise ValueError(f'kd_loc.layers: distinct indices >= -1 expected '
                         f'(-1: pixels, 0: teacher stem, 1..: stages), got '
                         f'{layers}')
    if pred_boxes.shape != gt_boxes.shape:
        raise ValueError(f'pred_boxes {tuple(pred_boxes.shape)} and '
                         f'gt_boxes {tuple(gt_boxes.shape)} must match')
    if pred_boxes.size(0) == 0:
        return pred_boxes.sum() * 0
    pool_of = dict(zip(layers, pool_sizes))
    pred_crops = crop_boxes(images, pred_boxes, size)
    with torch.no_grad():
        # Positives share ground truths: crop and encode each one once.
        unique_gt, gt_of_box = torch.unique(
            gt_boxes.detach(), dim=0, return_inverse=True)
        gt_crops = crop_boxes(images, unique_gt, size)
    per_box = pred_crops.new_zeros(pred_crops.size(0))
    if PIXELS in pool_of:
        target = F.adaptive_avg_pool2d(gt_crops, pool_of[PIXELS])[gt_of_box]
        per_box = per_box + _pooled_l1(pred_crops, target, pool_of[PIXELS])
    stages = [layer for layer in layers if layer != PIXELS]
    if stages:
        pred_features = teacher(pred_crops, stages)
        with torch.no_grad():
            gt_features = teacher(gt_crops, stages)
        stage_terms = [
            _pooled_l1(
                pred,
                F.adaptive_avg_pool2d(target, pool_of[stage])[gt_of_box],
                pool_of[stage])
            for stage, pred, target in zip(stages, pred_features, gt_features)
        ]
        per_box = per_box + torch.stack(stage_terms).mean(dim=0)
    return per_box.mean()
