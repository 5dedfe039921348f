"""Stochastic depth (Huang et al., "Deep Networks with Stochastic Depth",
ECCV 2016, arXiv:1603.09382): drop a residual branch per sample."""
import torch
from torch import nn


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``drop_prob``.

    Kept samples are scaled by ``1 / (1 - drop_prob)`` so the expectation is
    unchanged; in evaluation (or with ``drop_prob == 0``) ``x`` is returned.

    Args:
        x (Tensor): Branch output of shape [B, ...].
        drop_prob (float): Probability of dropping a sample, in [0, 1).
        training (bool): Whether the model is training.

    Returns:
        Tensor: Same shape as ``x``.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
    mask = x.new_empty(mask_shape).bernoulli_(keep_prob)
    return x * mask.div_(keep_prob)


class DropPath(nn.Module):
    """Module form of :func:`drop_path`.

    Args:
        drop_prob (float): Probability of dropping a sample. Defaults to 0.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(
                f'drop_prob: must be in [0, 1), got {drop_prob}')
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'
