"""Training images for zero-shot direct inversion, made without real data.

Dong et al. ("Deep Neural Networks are Surprisingly Reversible: A Baseline
for Zero-Shot Inversion", arXiv 2107.06304; BMVC 2022 as "Privacy
Vulnerability of Split Computing to Data-Free Model Inversion Attacks")
train inverse modules on images synthesised from the attacked classifier
alone. Their method's details are not public; both sources below are
mmext's assumptions, every choice an argument:

- :func:`natural_noise_images`: random-phase noise with a ``1 / f^alpha``
  amplitude spectrum, the power-law spectrum of natural images, channels
  correlated through a shared luminance field;
- :func:`bn_synthesized_images`: DeepInversion (Yin et al., "Dreaming to
  Distill: Data-free Knowledge Transfer via DeepInversion", CVPR 2020):
  images optimised so that the classifier's BatchNorm layers see their
  running statistics.
"""
import copy
import dataclasses
import math
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.utils import ProgressBar
from torch import Tensor, nn

from mmext.inversion.attack import valid_range
from mmext.inversion.gradients import classifier_logits
from mmext.inversion.objective import (BNStatisticsPrior, l2_prior,
                                       total_variation_prior,
                                       warmup_cosine_lr)
from mmext.utils.validation import is_int_at_least
from .target import pixel_normalisation

__all__ = [
    'natural_noise_images', 'bn_synthesized_images', 'check_batchnorm',
    'check_image_size', 'normalise_images'
]

#: DeepInversion's ImageNet jitter: 30 px at 224 px.
_DEEPINVERSION_JITTER = 30 / 224


def check_image_size(size: Sequence[int], field: str) -> Tuple[int, int]:
    """``size`` as ``(H, W)``; ValueError naming ``field`` unless it is
    two positive ints."""
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(is_int_at_least(s, 1) for s in size)):
        raise ValueError(f'{field}: two positive ints (H, W), got {size!r}')
    return int(size[0]), int(size[1])


def _check_range(value: Sequence[float], field: str, low: float,
                 high: float) -> Tuple[float, float]:
    """``(lo, hi)`` with ``low <= lo <= hi <= high``."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not low <= value[0] <= value[1] <= high):
        raise ValueError(f'{field}: (lo, hi) with {low} <= lo <= hi <= '
                         f'{high}, got {value!r}')
    return float(value[0]), float(value[1])


def _uniform(num: int, bounds: Tuple[float, float],
             generator: torch.Generator) -> Tensor:
    """``[num]`` draws from ``U(bounds)``."""
    return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(
        num, generator=generator)


def _power_law_fields(alpha: Tensor, size: Tuple[int, int],
                      generator: torch.Generator) -> Tensor:
    """Random-phase fields with amplitude spectrum ``1 / f^alpha``.

    Args:
        alpha: ``[N]`` amplitude exponents.
        size: ``(H, W)``.
        generator: The random stream (CPU).

    Returns:
        ``[N, H, W]``, each field of zero mean and unit standard deviation.
    """
    height, width = size
    fy = torch.fft.fftfreq(height).view(-1, 1)
    fx = torch.fft.rfftfreq(width).view(1, -1)
    # cycles / pixel; the DC term gets the lowest frequency's amplitude and
    # is removed below.
    radius = (fy**2 + fx**2).sqrt().clamp_min(1.0 / max(height, width))
    amplitude = radius.unsqueeze(0) ** -alpha.view(-1, 1, 1)
    phase = 2 * math.pi * torch.rand(
        amplitude.shape, generator=generator)
    fields = torch.fft.irfft2(
        torch.polar(amplitude, phase), s=(height, width))
    fields = fields - fields.mean(dim=(1, 2), keepdim=True)
    return fields / fields.std(dim=(1, 2), keepdim=True).clamp_min(1e-12)


def natural_noise_images(num: int,
                         size: Tuple[int, int],
                         generator: torch.Generator,
                         alpha_range: Tuple[float, float] = (1.0, 2.0),
                         channel_weight: float = 0.5,
                         contrast_range: Tuple[float, float] = (0.5, 1.0)
                         ) -> Tensor:
    """RGB noise images with natural images' power-law spectrum.

    Each image is ``L + channel_weight * C_c`` per channel ``c``: ``L`` a
    luminance field shared by the three channels and ``C_c`` a field of its
    own, all random-phase noise with amplitude ``1 / f^alpha`` (``alpha``
    drawn per image from ``alpha_range``) and unit variance. The image is
    then min-max scaled to [0, 1] and given a random contrast ``k ~
    U(contrast_range)`` and brightness ``b ~ U(0, 1 - k)``: ``b + k * x``.

    mmext's assumptions (Dong et al. do not publish their noise): the
    exponent range (natural images' amplitude falls as ``1/f``, power as
    ``1/f^2``; ``alpha`` up to 2 adds smoother images), the channel mix
    (``channel_weight=0.5`` correlates the channels by about
    ``1 / (1 + 0.5^2) = 0.8``, as natural RGB channels are) and the
    contrast/brightness ranges.

    Args:
        num: Number of images.
        size: ``(H, W)``.
        generator: The random stream (a CPU ``torch.Generator``): the same
            state gives the same images.
        alpha_range: ``(lo, hi)`` of the amplitude exponent, in [0, 4].
        channel_weight: Weight of the per-channel fields against the
            shared luminance (0: grey images).
        contrast_range: ``(lo, hi)`` of the contrast, in (0, 1].

    Returns:
        ``[num, 3, H, W]`` float32 in [0, 1], RGB.
    """
    if num < 1:
        raise ValueError(f'natural_noise_images: num >= 1, got {num}')
    size = check_image_size(size, 'natural_noise_images: size')
    alpha_range = _check_range(alpha_range, 'alpha_range', 0.0, 4.0)
    contrast_range = _check_range(contrast_range, 'contrast_range', 1e-6, 1.0)
    if channel_weight < 0:
        raise ValueError(f'channel_weight: >= 0, got {channel_weight}')
    alpha = _uniform(num, alpha_range, generator)
    luminance = _power_law_fields(alpha, size, generator)
    colour = _power_law_fields(alpha.repeat_interleave(3), size, generator)
    images = luminance.unsqueeze(1) + channel_weight * colour.view(
        num, 3, *size)
    flat = images.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    high = flat.max(dim=1).values.view(-1, 1, 1, 1)
    images = (images - low) / (high - low).clamp_min(1e-12)
    contrast = _uniform(num, contrast_range, generator)
    brightness = torch.rand(num, generator=generator) * (1 - contrast)
    return (brightness.view(-1, 1, 1, 1) +
            contrast.view(-1, 1, 1, 1) * images).clamp(0, 1)


def normalise_images(images: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """[0, 1] images in the classifier's input space.

    Args:
        images: ``[N, C, H, W]`` in [0, 1], in the classifier's channel
            order.
        mean: ``[C]`` in 0-255 units (:func:`pixel_normalisation`).
        std: ``[C]`` in 0-255 units.

    Returns:
        ``(255 * images - mean) / std``, ``[N, C, H, W]``.
    """
    return (255 * images - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)


def check_batchnorm(model: nn.Module) -> None:
    """Raise ValueError, naming ``source='bn'``, if ``model`` has no
    BatchNorm layer (DeepInversion needs their running statistics)."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
               for m in model.modules()):
        raise ValueError(
            f"source='bn': {type(model).__name__} has no BatchNorm layer, "
            'so there are no running statistics to match (DeepInversion); '
            "use source='noise'")


@dataclasses.dataclass(frozen=True)
class _Objective:
    """DeepInversion's loss weights and augmentation (see
    :func:`bn_synthesized_images`)."""
    bn_weight: float
    tv_weight: float
    l2_weight: float
    ce_weight: float
    jitter: int
    flip: bool


def _augment(images: Tensor, objective: _Objective,
             generator: torch.Generator) -> Tensor:
    """One random roll by up to ``jitter`` px (both axes) and, with
    ``flip``, a horizontal flip with probability 1/2, for the whole batch
    (as DeepInversion)."""
    if objective.jitter > 0:
        dy, dx = torch.randint(-objective.jitter, objective.jitter + 1, (2, ),
                               generator=generator).tolist()
        images = torch.roll(images, shifts=(dy, dx), dims=(2, 3))
    if objective.flip and torch.rand((), generator=generator) < 0.5:
        images = torch.flip(images, dims=(3, ))
    return images


def _loss(model: nn.Module, prior: BNStatisticsPrior, images: Tensor,
          labels: Tensor, objective: _Objective) -> Tensor:
    """DeepInversion's objective of one augmented batch (scalar)."""
    with prior:
        logits = classifier_logits(model, images)
    loss = objective.bn_weight * prior.loss
    if objective.tv_weight:
        loss = loss + objective.tv_weight * total_variation_prior(images)
    if objective.l2_weight:
        loss = loss + objective.l2_weight * l2_prior(images)
    if objective.ce_weight:
        loss = loss + objective.ce_weight * nn.functional.cross_entropy(
            logits, labels)
    return loss


def _optimise_batch(model: nn.Module, prior: BNStatisticsPrior,
                    images: Tensor, labels: Tensor,
                    bounds: Tuple[Tensor, Tensor], objective: _Objective,
                    generator: torch.Generator, steps: int, lr: float,
                    betas: Tuple[float, float], warmup_steps: int,
                    progress: Optional[ProgressBar]) -> Tensor:
    """Adam on ``images`` ``[B, 3, H, W]`` (normalised), clamped to
    ``bounds`` (``[3, 1, 1]`` each) after every step."""
    images = images.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([images], lr=lr, betas=betas, eps=1e-8)
    chunk, reported = max(1, steps // 20), 0
    for step in range(steps):
        for group in optimizer.param_groups:
            group['lr'] = warmup_cosine_lr(step, steps, warmup_steps, lr)
        augmented = _augment(images, objective, generator)
        loss = _loss(model, prior, augmented, labels, objective)
        # Gradients of the images only: the model's parameters never get
        # a .grad, whatever their requires_grad.
        images.grad, = torch.autograd.grad(loss, images)
        optimizer.step()
        with torch.no_grad():
            images.copy_(torch.maximum(torch.minimum(images, bounds[1]),
                                       bounds[0]))
        if progress is not None and ((step + 1) % chunk == 0
                                     or step + 1 == steps):
            progress.update(step + 1 - reported)
            reported = step + 1
    return images.detach()


def _model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU without any)."""
    for tensor in model.parameters():
        return tensor.device
    return torch.device('cpu')


def bn_synthesized_images(model: nn.Module,
                          num: int,
                          size: Tuple[int, int],
                          *,
                          steps: int = 2000,
                          lr: float = 0.2,
                          batch_size: int = 64,
                          bn_weight: float = 1.0,
                          tv_weight: float = 2e-3,
                          l2_weight: float = 2e-4,
                          ce_weight: float = 20.0,
                          first_bn_multiplier: float = 10.0,
                          jitter: Optional[int] = None,
                          flip: bool = True,
                          betas: Tuple[float, float] = (0.5, 0.9),
                          warmup_fraction: float = 0.05,
                          noise: Optional[dict] = None,
                          seed: int = 0,
                          device: Optional[Union[str, torch.device]] = None,
                          progress: bool = False) -> Tensor:
    """DeepInversion images of a frozen classifier.

    Per batch of ``batch_size``: start from :func:`natural_noise_images`
    (normalised with the classifier's ``data_preprocessor``), draw a
    random target label per image, then ``steps`` Adam steps on the images
    minimising

    ``bn_weight * R_BN + tv_weight * TV + l2_weight * L2 +
    ce_weight * CE(logits, labels)``

    of a randomly rolled (up to ``jitter`` px) and flipped copy of the
    batch (:class:`BNStatisticsPrior`, :func:`total_variation_prior`,
    :func:`l2_prior`), the learning rate warming up over ``warmup_fraction``
    of the steps and then decaying on a cosine; after each step the images
    are clamped to the normalised range of 0-255 pixels.

    mmext's assumptions (Dong et al. do not say how, or whether, they use
    DeepInversion): the defaults are the argument defaults of
    DeepInversion's ImageNet code (NVlabs ``imagenet_inversion.py``,
    ``setting_id=1``: r_feature 0.05, main loss 1, tv_l2 1e-4, l2 1e-5,
    first_bn_multiplier 10, lr 0.2, Adam betas (0.5, 0.9), 2000 iterations
    with 100 of warm-up, jitter 30 px at 224 px, ``--do_flip``, batch 64;
    its README's example uses r_feature 0.01 and lr 0.25), with every
    weight divided by 0.05 so that ``bn_weight`` is 1 (Adam's steps do not
    change with a common scale of the loss); starting from natural noise
    instead of Gaussian noise, random labels, and the jitter scaled with
    the image size are mmext's. TV and L2 are of the batch (Frobenius
    norms), so their balance with R_BN depends on the image and batch
    size: tune the weights for other sizes.

    The model is not changed: it runs in eval mode (its mode is restored)
    and only the images receive gradients.

    Args:
        model: The classifier, with BatchNorm layers and a normalising
            ``data_preprocessor``; ``classifier_logits(model, x)`` gives
            its logits (mmpretrain's ``ImageClassifier``:
            ``head(extract_feat(x))``).
        num: Number of images.
        size: ``(H, W)``.
        steps: Adam steps per batch.
        lr: Peak learning rate.
        batch_size: Images optimised together (BN statistics are batch
            statistics).
        bn_weight: Weight of the BN-statistics prior.
        tv_weight: Weight of the total variation.
        l2_weight: Weight of the images' L2 norm.
        ce_weight: Weight of the cross-entropy to the random labels.
        first_bn_multiplier: Extra weight of the first BN layer's term.
        jitter: Largest roll in px; None: ``round(30 / 224 * min(H, W))``.
        flip: Random horizontal flips.
        betas: Adam's betas.
        warmup_fraction: Fraction of ``steps`` of linear warm-up.
        noise: Keyword arguments of :func:`natural_noise_images` for the
            starting images.
        seed: Seed of the starting images, labels and augmentation (one
            CPU generator: the same on any device).
        device: Where to optimise; None: the model's device. Another
            device optimises on a copy of the model.
        progress: Show an MMEngine progress bar.

    Returns:
        ``[num, 3, H, W]`` float32 on the CPU, in the classifier's
        normalised input space.

    Raises:
        ValueError: The model has no BatchNorm (use ``source='noise'``),
            its preprocessor does not normalise, or an argument is out of
            range.
    """
    check_batchnorm(model)
    size = check_image_size(size, 'bn_synthesized_images: size')
    for name, value in (('num', num), ('steps', steps),
                        ('batch_size', batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name}: a positive int, got {value!r}')
    if not 0 <= warmup_fraction <= 1:
        raise ValueError(
            f'warmup_fraction: in [0, 1], got {warmup_fraction}')
    mean, std, _ = pixel_normalisation(model)
    if jitter is None:
        jitter = round(_DEEPINVERSION_JITTER * min(size))
    objective = _Objective(bn_weight, tv_weight, l2_weight, ce_weight,
                           int(jitter), flip)

    home = _model_device(model)
    device = home if device is None else torch.device(device)
    if device.type == home.type and device.index in (None, home.index):
        device, work = home, model
    else:
        work = copy.deepcopy(model).to(device)
    low, high = (b.view(-1, 1, 1).to(device)
                 for b in valid_range((mean / 255).tolist(),
                                      (std / 255).tolist()))
    generator = torch.Generator().manual_seed(seed)
    prior = BNStatisticsPrior(work, first_bn_multiplier)
    num_batches = math.ceil(num / batch_size)
    bar = ProgressBar(num_batches * steps) if progress else None
    was_training = work.training
    work.eval()
    try:
        batches = []
        for start in range(0, num, batch_size):
            count = min(batch_size, num - start)
            images = normalise_images(
                natural_noise_images(count, size, generator, **(noise or {})),
                mean, std).to(device)
            with torch.no_grad():
                num_classes = classifier_logits(work, images[:1]).shape[1]
            labels = torch.randint(
                num_classes, (count, ), generator=generator).to(device)
            batches.append(
                _optimise_batch(work, prior, images, labels, (low, high),
                                objective, generator, steps, lr, tuple(betas),
                                round(warmup_fraction * steps), bar).cpu())
    finally:
        work.train(was_training)
    return torch.cat(batches)
