"""The terms of GradInversion's objective (Yin et al., "See through
Gradients: Image Batch Recovery via GradInversion", CVPR 2021, arXiv
2104.07586, Eqs. 3 and 9-10), in plain PyTorch:

- gradient matching, one non-squared L2 norm per layer (Eq. 3);
- the BatchNorm-statistics prior of DeepInversion (Yin et al., CVPR 2020):
  per BN layer, ``||mu(x) - running_mean||_2 + ||var(x) - running_var||_2``
  on the layer's input, the first layer's term multiplied (DeepInversion's
  ``first_bn_multiplier``);
- DeepInversion's total-variation prior (four directions, Frobenius norms)
  and the image L2 prior;
- Adam's learning rate: linear warm-up, then cosine decay.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn


def gradient_matching_loss(candidate: Sequence[torch.Tensor],
                           target: Sequence[torch.Tensor],
                           layer_weights: Optional[Sequence[float]] = None
                           ) -> torch.Tensor:
    """``sum_l w_l ||g_l(x) - dW_l||_2`` over the layers' gradients.

    Args:
        candidate (Sequence[Tensor]): The candidate batch's gradients, one
            per parameter, differentiable (``create_graph=True``).
        target (Sequence[Tensor]): The observed gradients, same shapes.
        layer_weights (Sequence[float], optional): One weight per entry;
            None weighs all 1 (the paper reports one global weight).

    Returns:
        Tensor: Scalar.
    """
    if len(candidate) != len(target):
        raise ValueError(f'gradient_matching_loss: {len(candidate)} '
                         f'candidate and {len(target)} target gradients; '
                         'pass the gradients of the same parameters')
    weights = [1.0] * len(target) if layer_weights is None else list(
        layer_weights)
    if len(weights) != len(target):
        raise ValueError(f'gradient_matching_loss: {len(weights)} layer '
                         f'weights for {len(target)} gradients')
    total = candidate[0].new_zeros(())
    for grad, observed, weight in zip(candidate, target, weights):
        if grad.shape != observed.shape:
            raise ValueError('gradient_matching_loss: gradient shapes '
                             f'{tuple(grad.shape)} and '
                             f'{tuple(observed.shape)} differ')
        total = total + weight * (grad - observed).norm()
    return total


def cosine_gradient_distance(candidate: Sequence[torch.Tensor],
                             target: Sequence[torch.Tensor]) -> torch.Tensor:
    """``1 - <g(x), dW> / (||g(x)|| ||dW||)`` over all gradients at once.

    The distance of Geiping et al., "Inverting Gradients - How easy is it
    to break privacy in federated learning?", NeurIPS 2020 (arXiv
    2003.14053), offered beside the paper's L2 because it ignores the
    gradients' scale: on a small network with running-statistics BN the L2
    distance stalls far from the target within a CPU budget while this one
    converges (``configs/gradinversion/README.md``).

    Args:
        candidate (Sequence[Tensor]): The candidate batch's gradients.
        target (Sequence[Tensor]): The observed gradients, same shapes.

    Returns:
        Tensor: Scalar in [0, 2].
    """
    if len(candidate) != len(target):
        raise ValueError(f'cosine_gradient_distance: {len(candidate)} '
                         f'candidate and {len(target)} target gradients')
    dot = sum((g * t).sum() for g, t in zip(candidate, target))
    return cosine_distance_from_products(dot, square_norm(candidate),
                                         square_norm(target))


def square_norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_i ||t_i||^2`` over a list of tensors (scalar)."""
    return sum(t.pow(2).sum() for t in tensors)


def cosine_distance_from_products(dot: torch.Tensor,
                                  candidate_square: torch.Tensor,
                                  target_square: torch.Tensor
                                  ) -> torch.Tensor:
    """``1 - <g, dW> / (||g|| ||dW||)`` from the inner product and the
    squared norms (:func:`cosine_gradient_distance`; per seed in
    :mod:`.pooled`).

    Args:
        dot (Tensor): ``<g, dW>``, any shape (one entry per seed).
        candidate_square (Tensor): ``||g||^2``, the same shape.
        target_square (Tensor): ``||dW||^2``, scalar.

    Returns:
        Tensor: The distances, the shape of ``dot``, in [0, 2].
    """
    return 1 - dot / (candidate_square.sqrt() *
                      target_square.sqrt()).clamp_min(1e-12)


def total_variation_prior(images: torch.Tensor) -> torch.Tensor:
    """DeepInversion's TV: Frobenius norms of the horizontal, vertical and
    both diagonal neighbour differences over the batch, summed.

    Args:
        images (Tensor): [N, C, H, W], or [G, N, C, H, W] for G batches
            (seeds) at once.

    Returns:
        Tensor: Scalar, or [G].
    """

    def norm(differences: torch.Tensor) -> torch.Tensor:
        return differences.flatten(-4).norm(dim=-1)

    return (norm(images[..., :, :-1] - images[..., :, 1:]) +
            norm(images[..., :-1, :] - images[..., 1:, :]) +
            norm(images[..., 1:, :-1] - images[..., :-1, 1:]) +
            norm(images[..., :-1, :-1] - images[..., 1:, 1:]))


def l2_prior(images: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of each image's L2 norm.

    Args:
        images (Tensor): [N, C, H, W], or [G, N, C, H, W] for G batches
            (seeds) at once.

    Returns:
        Tensor: Scalar, or [G].
    """
    return images.flatten(-3).norm(dim=-1).mean(-1)


def bn_statistics_distance(features: torch.Tensor,
                           running_mean: torch.Tensor,
                           running_var: torch.Tensor,
                           seeds: Optional[int] = None) -> torch.Tensor:
    """``||mu(x) - running_mean||_2 + ||var(x) - running_var||_2`` of one
    BatchNorm layer's input (DeepInversion's per-layer BN term).

    The mean and the biased variance are taken over every dimension but
    the channels, in two passes (mean, then the mean squared deviation)
    over the contiguous spatial dimensions first: exact like
    ``Tensor.var`` and 1.4-2.4x as fast on a CPU (ResNet-18 layers). Under
    :func:`torch.func.vmap` the statistics are those of each mapped slice,
    which is how :mod:`.batched` keeps every seed's statistics its own;
    ``seeds`` does the same for consecutive batches in one tensor
    (:mod:`.pooled`).

    Args:
        features (Tensor): The layer's input [N, C, *spatial] (spatial may
            be empty, as for ``BatchNorm1d`` on [N, C]).
        running_mean (Tensor): The layer's running mean [C].
        running_var (Tensor): The layer's running variance [C].
        seeds (int, optional): G: ``features`` holds G batches of N / G
            images one after the other, each with its own statistics.

    Returns:
        Tensor: Scalar, or [G] with ``seeds``.
    """
    per_image = features.flatten(2) if features.dim() > 2 else \
        features.unsqueeze(-1)  # [B, C, L]
    if seeds is not None:
        per_image = per_image.unflatten(0, (seeds, -1))  # [G, N, C, L]
    mean = per_image.mean(-1).mean(-2)
    deviation = per_image - mean.unsqueeze(-1).unsqueeze(-3)
    var = deviation.pow(2).mean(-1).mean(-2)
    return (mean - running_mean).norm(dim=-1) + (
        var - running_var).norm(dim=-1)


class BNStatisticsPrior:
    """Collects DeepInversion's BN-statistics loss during a forward pass.

    Use as a context manager around the model's forward; :attr:`loss` is
    then the weighted sum over the model's BatchNorm layers (in module
    order) of ``||mean - running_mean||_2 + ||var - running_var||_2`` of
    each layer's input, mean and biased variance over (N, H, W)
    (:func:`bn_statistics_distance`).

    The hooks also fire inside :func:`torch.func.vmap` (and
    :func:`torch.func.functional_call`), where each term is then that of
    one mapped slice: read :attr:`loss` inside the mapped function, before
    the context exits (:mod:`.batched`). In a context entered through
    :meth:`per_seed`, a forward of several seeds' batches gives each seed
    its own terms (:mod:`.pooled`).

    Args:
        model (nn.Module): The attacked model.
        first_bn_multiplier (float): Weight of the first BN layer's term
            (DeepInversion and breaching use 10; whether GradInversion does
            is unverified). Defaults to 10.
    """

    def __init__(self, model: nn.Module,
                 first_bn_multiplier: float = 10.0) -> None:
        self.norms: List[nn.modules.batchnorm._BatchNorm] = [
            m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        if not self.norms:
            raise ValueError(
                f'BNStatisticsPrior: {type(model).__name__} has no '
                'BatchNorm layer; set the BN prior weight to 0')
        self.first_bn_multiplier = first_bn_multiplier
        #: Consecutive candidate batches in a forward's batch, each with its
        #: own terms (:meth:`per_seed`); None: one batch.
        self.seeds: Optional[int] = None
        self.terms: List[torch.Tensor] = []
        self._handles: list = []

    def _hook(self, module: nn.modules.batchnorm._BatchNorm,
              inputs: Tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        self.terms.append(
            bn_statistics_distance(inputs[0], module.running_mean,
                                   module.running_var, self.seeds))

    def per_seed(self, seeds: Optional[int]) -> 'BNStatisticsPrior':
        """Make the terms of the next context per seed: a forward of
        ``seeds`` consecutive candidate batches then gives terms [seeds],
        each over its own images (None: one term over the whole batch, the
        default, restored when the context exits). Returns the prior, to
        enter as the context."""
        self.seeds = seeds
        return self

    def __enter__(self) -> 'BNStatisticsPrior':
        self.terms = []
        self._handles = [m.register_forward_hook(self._hook)
                         for m in self.norms]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.seeds = None

    @property
    def loss(self) -> torch.Tensor:
        """The weighted sum of the last forward's terms (scalar)."""
        if not self.terms:
            raise RuntimeError('BNStatisticsPrior.loss: no forward pass ran '
                               'inside the context')
        return self.first_bn_multiplier * self.terms[0] + sum(
            self.terms[1:], self.terms[0].new_zeros(()))


def warmup_cosine_lr(step: int, total_steps: int, warmup_steps: int,
                     base_lr: float) -> float:
    """``base * (step + 1) / warmup`` during the warm-up, then
    ``0.5 * (1 + cos(pi * (step - warmup) / (total - warmup))) * base``.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return 0.5 * (1 + math.cos(math.pi * progress)) * base_lr
