"""Supervised loss of CVP-MVSNet (Yang et al., CVPR 2020,
arXiv:1912.08329, Eq. 5): smooth L1 between the estimate and the ground
truth at every pyramid level, summed over levels. The self-training stage of
Yang, Alvarez, Liu (CVPR 2021, arXiv:2104.02972) uses the same loss on
pseudo depth."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['multi_level_depth_loss']


def multi_level_depth_loss(depths: Sequence[Tensor], gt: Sequence[Tensor],
                           valid_min: Tensor, beta: float = 1.0) -> Tensor:
    """Sum over levels of the mean smooth L1 on valid ground-truth pixels.

    A pixel is valid where its ground truth is strictly greater than its
    sample's ``valid_min``: pass the sample's ``depth_min`` to reproduce the
    released code, which keeps ``gt > 425`` (DTU's depth_min) and so drops
    the zeros of missing depth and the depths blurred towards them at the
    borders. The mean runs over the valid pixels of the whole batch. A level
    without a valid pixel adds 0 (still connected to the graph, so
    ``backward`` works).

    Args:
        depths (Sequence[Tensor]): Estimates ``[B, H_l, W_l]`` per level.
        gt (Sequence[Tensor]): Ground truth of the same shapes, same order.
        valid_min (Tensor): ``[B]`` threshold per sample.
        beta (float): Smooth L1 threshold (PyTorch's default 1).

    Returns:
        Tensor: Scalar.
    """
    if len(depths) != len(gt):
        raise ValueError(f'gt: {len(gt)} levels for {len(depths)} estimated '
                         'levels')
    total = depths[0].new_zeros(())
    for level, (est, target) in enumerate(zip(depths, gt)):
        if est.shape != target.shape:
            raise ValueError(
                f'gt: level {level} has shape {list(target.shape)}, the '
                f'estimate {list(est.shape)}; give the ground truth at each '
                'level\'s resolution (finest first)')
        target = target.to(est.dtype)
        mask = target > valid_min.to(est.dtype).view(-1, 1, 1)
        # Masked pixels are replaced before the loss so that non-finite
        # values there cannot reach the sum or the gradient.
        err = F.smooth_l1_loss(torch.where(mask, est, 0),
                               torch.where(mask, target, 0),
                               reduction='none', beta=beta)
        total = total + err.sum() / mask.sum().clamp(min=1)
    return total
