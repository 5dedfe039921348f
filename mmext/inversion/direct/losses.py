"""The two training stages of zero-shot direct inversion (Dong et al.,
"Deep Neural Networks are Surprisingly Reversible: A Baseline for Zero-Shot
Inversion", arXiv 2107.06304), in plain PyTorch.

Notation: the frozen blocks ``f_0 .. f_{k-1}`` map the image ``u_0`` to the
features ``u_k`` the attacker sees (``u_{i+1} = f_i(u_i)``); the inverse
module ``g_i`` estimates ``u_i`` from ``u_{i+1}``.

- Stage 1 (per block, the paper's "divide and conquer"): each ``g_i``
  learns alone on the target's own activations, with the reconstruction
  ``||g_i(f_i(u_i)) - u_i||`` and the cycle term
  ``||f_i(g_i(f_i(u_i))) - f_i(u_i)||`` through the frozen block.
- Stage 2 (the paper's "re-syncing"): the inverses composed end to end,
  ``û_k = u_k``, ``û_i = g_i(û_{i+1})``, trained on the image error
  ``||û_0 - u_0||``, the errors at the intermediate depths
  ``||û_i - u_i||`` and the cycle terms ``||f_i(û_i) - u_{i+1}||`` that feed
  each inversion back through the frozen block above it.

The norms (mean squared errors) and the local form of the stage-2 cycle
(one block back, not the whole way to the split) are mmext's assumptions:
the paper's losses are not public.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    'target_activations', 'block_losses', 'chain_losses', 'invert_chain'
]


def target_activations(blocks: Sequence[nn.Module],
                       images: torch.Tensor) -> List[torch.Tensor]:
    """``[u_0, u_1, ..., u_k]``: the images and every block's output
    through the frozen target (no gradient).

    Args:
        blocks: ``f_0 .. f_{k-1}``.
        images: ``[N, 3, H, W]`` normalised.

    Returns:
        ``k + 1`` tensors, the last the split's features.
    """
    activations = [images]
    with torch.no_grad():
        for block in blocks:
            activations.append(block(activations[-1]))
    return activations


def block_losses(blocks: Sequence[nn.Module], inverses: Sequence[nn.Module],
                 activations: Sequence[torch.Tensor],
                 with_cycle: bool = True) -> Dict[str, torch.Tensor]:
    """Stage 1: every inverse on its own block's true output.

    Args:
        blocks: ``f_0 .. f_{k-1}`` (frozen).
        inverses: ``g_0 .. g_{k-1}``.
        activations: ``u_0 .. u_k`` (:func:`target_activations`).
        with_cycle: Compute the cycle terms (else ``cycle`` is 0 and the
            frozen blocks do not run again).

    Returns:
        ``reconstruction`` and ``cycle``: each the sum over blocks of the
        mean squared error (scalars).
    """
    reconstruction = activations[0].new_zeros(())
    cycle = activations[0].new_zeros(())
    for i, (block, inverse) in enumerate(zip(blocks, inverses)):
        recovered = inverse(activations[i + 1])
        reconstruction = reconstruction + F.mse_loss(recovered,
                                                     activations[i])
        if with_cycle:
            cycle = cycle + F.mse_loss(block(recovered), activations[i + 1])
    return dict(reconstruction=reconstruction, cycle=cycle)


def invert_chain(inverses: Sequence[nn.Module],
                 features: torch.Tensor) -> List[torch.Tensor]:
    """``[û_0, ..., û_k]``: the composed inverses from the split's features
    down to the image.

    Args:
        inverses: ``g_0 .. g_{k-1}``.
        features: ``u_k``, ``[N, C, h, w]``.

    Returns:
        ``k + 1`` tensors, ``û_k = features`` last, the image ``û_0`` first.
    """
    recovered = [features]
    for inverse in reversed(list(inverses)):
        recovered.append(inverse(recovered[-1]))
    return recovered[::-1]


def chain_losses(blocks: Sequence[nn.Module], inverses: Sequence[nn.Module],
                 activations: Sequence[torch.Tensor],
                 with_cycle: bool = True) -> Dict[str, torch.Tensor]:
    """Stage 2: the composed inverses from the split's features.

    Args:
        blocks: ``f_0 .. f_{k-1}`` (frozen).
        inverses: ``g_0 .. g_{k-1}``.
        activations: ``u_0 .. u_k`` (:func:`target_activations`).
        with_cycle: Compute the cycle terms (else ``cycle`` is 0).

    Returns:
        ``image`` (the error of ``û_0``), ``reconstruction`` (the sum over
        the intermediate depths ``0 < i < k``) and ``cycle`` (the sum over
        ``i < k`` of ``||f_i(û_i) - u_{i+1}||``); mean squared errors.
    """
    recovered = invert_chain(inverses, activations[-1])
    reconstruction = activations[0].new_zeros(())
    for i in range(1, len(blocks)):
        reconstruction = reconstruction + F.mse_loss(recovered[i],
                                                     activations[i])
    cycle = activations[0].new_zeros(())
    for i, block in enumerate(blocks if with_cycle else []):
        cycle = cycle + F.mse_loss(block(recovered[i]), activations[i + 1])
    return dict(image=F.mse_loss(recovered[0], activations[0]),
                reconstruction=reconstruction, cycle=cycle)
