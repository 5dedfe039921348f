"""The optimisation baseline of direct inversion: recover the images whose
split-layer features a device sent, by gradient descent on the images.

This is the classical feature inversion of Mahendran and Vedaldi,
"Understanding Deep Image Representations by Inverting Them", CVPR 2015
(arXiv 1412.0035): minimise the squared feature distance normalised by
the target's energy, ``||F(x) - z||^2 / ||z||^2``, plus image priors;
here the priors are DeepInversion's (Yin et al., "Dreaming to Distill:
Data-free Knowledge Transfer via DeepInversion", CVPR 2020), the same as
GradInversion's (:mod:`.objective`): total variation, BatchNorm statistics
and the image L2 norm. Dong et al. ("Deep Neural Networks are Surprisingly
Reversible: A Baseline for Zero-Shot Inversion", arXiv 2107.06304)
compare their learned zero-shot inverter against such an optimisation.
"""
import sys
from contextlib import nullcontext
from typing import Dict, Optional, Sequence

import torch
from mmengine.utils import ProgressBar
from torch import Tensor, nn

from .objective import BNStatisticsPrior, l2_prior, total_variation_prior, \
    warmup_cosine_lr
from .split import blocks_until

__all__ = ['invert_features']


def _shallow_model(model: nn.Module, split: str) -> nn.Sequential:
    """The blocks up to ``split`` as one module sharing the model's layers
    (the composition :func:`.split.split_forward` runs)."""
    return nn.Sequential(*(block for _, block in blocks_until(model, split)))


def _check_arguments(features: Tensor, image_shape: Sequence[int],
                     iterations: int) -> None:
    if len(image_shape) != 3:
        raise ValueError('invert_features: image_shape must be (C, H, W), '
                         f'got {tuple(image_shape)}')
    if iterations < 1:
        raise ValueError(
            f'invert_features: iterations must be >= 1, got {iterations}')
    if features.dim() != 4:
        raise ValueError('invert_features: features must be 4-D '
                         f'[N, C, h, w], got shape {tuple(features.shape)}')


def _check_features(shallow: nn.Module, split: str, features: Tensor,
                    image_shape: Sequence[int]) -> None:
    """Raise a ValueError unless ``features`` have the shape the split
    gives images of ``image_shape`` (one forward of a zero batch)."""
    with torch.no_grad():
        expected = shallow(features.new_zeros(
            (features.shape[0], *image_shape))).shape
    if features.shape != expected:
        raise ValueError(
            f'invert_features: features have shape '
            f'{tuple(features.shape)}, but split={split!r} maps images of '
            f'shape {tuple(image_shape)} to {tuple(expected)}; pass the '
            'split output of images of image_shape')
    if not features.any():
        raise ValueError('invert_features: features are all zero; the '
                         'feature distance is normalised by their energy')


def _bound(bound: Optional[Tensor], name: str, channels: int,
           like: Tensor) -> Optional[Tensor]:
    """``bound`` [C] as a [1, C, 1, 1] tensor of ``like``'s device and
    dtype, or None."""
    if bound is None:
        return None
    if bound.shape != (channels, ):
        raise ValueError(
            f'invert_features: {name} must have shape [{channels}] (one '
            f'value per channel), got {tuple(bound.shape)}')
    return bound.to(like).view(1, -1, 1, 1)


def _clamp_(images: Tensor, low: Optional[Tensor],
            high: Optional[Tensor]) -> Tensor:
    """Clamp ``images`` in place per channel where a bound is given."""
    if low is not None or high is not None:
        images.clamp_(low, high)
    return images


def _bn_prior(shallow: nn.Module, split: str, bn_weight: float,
              first_bn_multiplier: float) -> Optional[BNStatisticsPrior]:
    """The BN prior over the BN layers up to ``split``; None when
    ``bn_weight`` is 0."""
    if not bn_weight:
        return None
    try:
        return BNStatisticsPrior(shallow, first_bn_multiplier)
    except ValueError as error:
        raise ValueError(
            f'invert_features: bn_weight={bn_weight} but no BatchNorm '
            f'layer runs up to split={split!r}; set bn_weight=0') from error


def _objective(shallow: nn.Module, images: Tensor, features: Tensor,
               bn_prior: Optional[BNStatisticsPrior], tv_weight: float,
               bn_weight: float, l2_weight: float) -> Dict[str, Tensor]:
    """The weighted terms of one step's loss."""
    with bn_prior if bn_prior is not None else nullcontext():
        candidate = shallow(images)
    parts = {
        'feature': (candidate - features).pow(2).sum() /
        features.pow(2).sum(),
        'tv': tv_weight * total_variation_prior(images),
        'l2': l2_weight * l2_prior(images),
    }
    if bn_prior is not None:
        parts['bn'] = bn_weight * bn_prior.loss
    return parts


def invert_features(model: nn.Module,
                    split: str,
                    features: Tensor,
                    image_shape: Sequence[int],
                    *,
                    iterations: int = 2000,
                    lr: float = 0.1,
                    warmup: int = 50,
                    tv_weight: float = 1e-3,
                    bn_weight: float = 1e-2,
                    l2_weight: float = 0.0,
                    first_bn_multiplier: float = 10.0,
                    lower: Optional[Tensor] = None,
                    upper: Optional[Tensor] = None,
                    seed: int = 0,
                    progress: bool = False) -> Tensor:
    """Recover images from their split-layer features by optimisation.

    Mahendran and Vedaldi's feature inversion ("Understanding Deep Image
    Representations by Inverting Them", CVPR 2015) with DeepInversion's
    priors (Yin et al., CVPR 2020; the same as GradInversion's): starting
    from N(0, 1) noise, Adam on the images (linear warm-up, then cosine
    decay: :func:`.objective.warmup_cosine_lr`) minimises::

        ||F(x) - z||^2 / ||z||^2 + tv_weight R_TV(x)
            + bn_weight R_BN(x) + l2_weight ||x||_2

    where ``F`` is the model up to ``split`` (:func:`.split.split_forward`)
    and ``R_BN`` covers only the BatchNorm layers that run up to the split.
    After each step (and at the start) the images are clamped per channel
    to ``[lower, upper]`` where given.

    The default weights are mmext's choices, not a paper's: for features
    after a ResNet stem or stage of 64-px images in the normalised image
    space, where the normalised feature distance starts near 1.

    The model is not changed: it runs in eval mode (every module's training
    flag is restored afterwards), its parameters are never stepped and
    receive no gradient.

    Args:
        model (nn.Module): The classifier whose first blocks the device
            runs (see :func:`.split.classifier_blocks`).
        split (str): The split layer, e.g. ``'stem'``, ``'layer2'``,
            ``'layer2.0'`` (see :func:`.split.blocks_until`).
        features (Tensor): The observed split output [N, C', h, w].
        image_shape (Sequence[int]): (C, H, W) of the images.
        iterations (int): Adam steps (>= 1). Defaults to 2000.
        lr (float): Adam's peak learning rate. Defaults to 0.1.
        warmup (int): Warm-up steps. Defaults to 50.
        tv_weight (float): Weight of the total-variation prior. Defaults
            to 1e-3.
        bn_weight (float): Weight of the BN-statistics prior; 0 skips it
            (needed when no BatchNorm runs before the split). Defaults to
            1e-2.
        l2_weight (float): Weight of the images' L2 norm. Defaults to 0.
        first_bn_multiplier (float): Extra weight of the first BN layer's
            term (DeepInversion's). Defaults to 10.
        lower (Tensor, optional): Smallest valid value per channel [C],
            e.g. from :func:`.attack.valid_range`.
        upper (Tensor, optional): Largest valid value per channel [C].
        seed (int): Seed of the initial noise. Defaults to 0.
        progress (bool): Show a progress bar. Defaults to False.

    Returns:
        Tensor: The recovered images [N, C, H, W] in the model's normalised
        space, detached, on ``features``' device.

    Raises:
        ValueError: ``image_shape`` is not (C, H, W); ``iterations`` < 1;
            ``features`` are not 4-D, not of the split's output shape for
            ``image_shape``, or all zero; ``lower``/``upper`` are not [C];
            ``split`` is not a layer of the model; ``bn_weight`` > 0 but
            no BatchNorm runs before the split.
    """
    _check_arguments(features, image_shape, iterations)
    shallow = _shallow_model(model, split)
    target = features.detach()
    low = _bound(lower, 'lower', image_shape[0], target)
    high = _bound(upper, 'upper', image_shape[0], target)
    bn_prior = _bn_prior(shallow, split, bn_weight, first_bn_multiplier)
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        _check_features(shallow, split, target, image_shape)
        generator = torch.Generator(device=target.device).manual_seed(seed)
        images = torch.randn((target.shape[0], *image_shape),
                             generator=generator, device=target.device,
                             dtype=target.dtype)
        images = _clamp_(images, low, high).requires_grad_(True)
        optimizer = torch.optim.Adam([images], lr=lr)
        # sys.stdout now, not ProgressBar's default bound at its import.
        bar = ProgressBar(iterations, file=sys.stdout) if progress else None
        # Also under torch.no_grad() (a test loop's hooks): the images need
        # their gradient.
        with torch.enable_grad():
            for step in range(iterations):
                for group in optimizer.param_groups:
                    group['lr'] = warmup_cosine_lr(step, iterations,
                                                   warmup, lr)
                optimizer.zero_grad()
                loss = sum(_objective(shallow, images, target, bn_prior,
                                      tv_weight, bn_weight,
                                      l2_weight).values())
                # Only the images' gradient: the parameters' .grad stay.
                loss.backward(inputs=[images])
                optimizer.step()
                with torch.no_grad():
                    _clamp_(images, low, high)
                if bar is not None:
                    bar.update()
    finally:
        for module, training in modes.items():
            module.training = training
    return images.detach()
