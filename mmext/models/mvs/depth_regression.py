"""Depth from a probability volume, and its photometric confidence
(Yang et al., CVPR 2020, arXiv:1912.08329, Eq. 3 and Sec. 4; the window
sum is MVSNet's probability map)."""
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['soft_argmin', 'photometric_confidence']


def soft_argmin(prob: Tensor, hypotheses: Tensor) -> Tensor:
    """Expected depth ``sum_d p(d) * d``.

    Args:
        prob (Tensor): ``[B, D, H, W]``, summing to 1 over D.
        hypotheses (Tensor): ``[B, D]`` (planes) or ``[B, D, H, W]``.

    Returns:
        Tensor: ``[B, H, W]``.
    """
    if hypotheses.dim() == 2:
        hypotheses = hypotheses[:, :, None, None]
    return (prob * hypotheses).sum(dim=1)


def photometric_confidence(prob: Tensor, window: int = 4) -> Tensor:
    """Probability mass in a ``window`` of hypotheses around the estimate.

    The index is the soft-argmin over ``0 .. D - 1`` truncated to an
    integer ``i``; the window covers ``i - 1 .. i + 2`` for 4 (in general
    ``i - (window - 1) // 2 .. i + window // 2``), zero outside the volume.
    A one-hot distribution gives 1, a uniform one ``window / D``.

    Args:
        prob (Tensor): ``[B, D, H, W]``.
        window (int): Window length (4 in CVP-MVSNet and MVSNet).

    Returns:
        Tensor: ``[B, H, W]`` in [0, 1].
    """
    num = prob.shape[1]
    before, after = (window - 1) // 2, window // 2
    padded = F.pad(prob.unsqueeze(1), (0, 0, 0, 0, before, after))
    # window * mean over the window == sum over the window.
    sums = window * F.avg_pool3d(padded, (window, 1, 1), stride=1)
    index = soft_argmin(prob, torch.arange(num, device=prob.device,
                                           dtype=prob.dtype)[None])
    index = index.long().clamp(0, num - 1)
    return torch.gather(sums.squeeze(1), 1, index.unsqueeze(1)).squeeze(1)
