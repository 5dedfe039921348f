"""GradInversion's seeds as one batched computation (Yin et al., "See through
Gradients: Image Batch Recovery via GradInversion", CVPR 2021, arXiv
2104.07586, Sec. 3).

Each seed ``g`` of the attack is a candidate batch ``x_g`` [N, C, H, W]
whose objective needs

- its own weight gradient ``g_l(x_g) = d mean_i CE(f(x_g,i), y_i) / dW_l``
  (Eq. 3 compares it with the observed one), differentiable with respect
  to ``x_g``;
- its own BatchNorm input statistics, mean and variance over the seed's N
  images only (the BN prior of Eq. 9).

Pooling the seeds into one batch of G x N images would mix both: the
gradient would be the seeds' average and the statistics those of all G x N
images. Here the per-seed function is written once, for one seed, with
:func:`torch.func.grad` over :func:`torch.func.functional_call` (the weights
as explicit inputs), and :func:`torch.func.vmap` maps it over the seed
dimension: every operator then runs once on the G x N images (the victim is
in eval mode, so its forward is per image) while reductions, the weight
gradient and the BN statistics stay per seed. The result remains
differentiable with respect to the images by ordinary autograd, which gives
the double backward of gradient matching.
"""
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from .objective import BNStatisticsPrior


def trainable_parameters(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The model's trainable parameters by name, detached.

    The order is that of ``model.parameters()``, hence of
    :func:`mmext.inversion.batch_gradients` and of the observed gradients.
    Detached, so that differentiating the attack's objective by the images
    computes no second derivative with respect to the weights.

    Args:
        model (nn.Module): The attacked model.

    Returns:
        dict[str, Tensor]: Name -> parameter (same storage, no grad).
    """
    return {
        name: param.detach()
        for name, param in model.named_parameters() if param.requires_grad
    }


def functional_logits(model: nn.Module, params: Dict[str, torch.Tensor],
                      images: torch.Tensor) -> torch.Tensor:
    """:func:`mmext.inversion.classifier_logits` with the weights
    ``params`` in place of the model's own.

    Args:
        model (nn.Module): An mmext/mmpretrain-style classifier
            (``model(x, mode='tensor')``) or a plain module (``model(x)``).
        params (dict[str, Tensor]): Some or all of its parameters by name.
        images (Tensor): [N, C, H, W].

    Returns:
        Tensor: Logits [N, num_classes].
    """
    try:
        return functional_call(model, params, (images, ), {'mode': 'tensor'})
    except TypeError:
        return functional_call(model, params, (images, ))


def seed_forward(model: nn.Module,
                 params: Dict[str, torch.Tensor],
                 images: torch.Tensor,
                 labels: torch.Tensor,
                 bn_prior: Optional[BNStatisticsPrior] = None,
                 with_gradients: bool = True
                 ) -> Tuple[Optional[List[torch.Tensor]],
                            Optional[torch.Tensor]]:
    """One seed's candidate gradients and BN prior, from one forward.

    Written for a single seed and composable with :func:`torch.func.vmap`
    over a leading seed dimension (:func:`map_seeds`).

    Args:
        model (nn.Module): The attacked classifier, in eval mode.
        params (dict[str, Tensor]): Its trainable parameters
            (:func:`trainable_parameters`).
        images (Tensor): The seed's candidate batch [N, C, H, W].
        labels (LongTensor): [N].
        bn_prior (BNStatisticsPrior, optional): Collects the BN prior of
            the forward; None skips it.
        with_gradients (bool): Compute the gradients (False: forward only,
            for the BN prior).

    Returns:
        tuple: ``(gradients, bn)``. ``gradients``: None, or one tensor per
        entry of ``params`` (same shapes and order), ``d mean_i
        CE(f(x_i), y_i) / d theta`` of this seed's images, differentiable
        with respect to ``images``. ``bn``: None, or the scalar
        :attr:`BNStatisticsPrior.loss` of this seed's images.
    """

    def logits_and_bn(weights: Dict[str, torch.Tensor]
                      ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        with bn_prior if bn_prior is not None else nullcontext():
            logits = functional_logits(model, weights, images)
            bn = bn_prior.loss if bn_prior is not None else None
        return logits, bn

    if not with_gradients:
        return None, logits_and_bn(params)[1]

    def loss_and_bn(weights: Dict[str, torch.Tensor]
                    ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, ...]]:
        logits, bn = logits_and_bn(weights)
        # grad's auxiliary output must hold tensors only.
        return F.cross_entropy(logits, labels), () if bn is None else (bn, )

    gradients, aux = grad(loss_and_bn, has_aux=True)(params)
    return list(gradients.values()), aux[0] if aux else None


def map_seeds(per_seed: Callable[[torch.Tensor], Dict[str, torch.Tensor]],
              images: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Run a one-seed objective on every seed at once.

    Args:
        per_seed (Callable): One seed's images [N, C, H, W] -> its
            objective terms (name -> scalar).
        images (Tensor): All seeds [G, N, C, H, W].

    Returns:
        dict[str, Tensor]: Name -> [G], seed ``g``'s value of each term,
        differentiable with respect to ``images``.
    """
    return vmap(per_seed)(images)
