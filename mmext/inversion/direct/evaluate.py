"""Timing and scoring inversions side by side on the same images (direct
inversion, Dong et al., arXiv 2107.06304: one forward pass against
per-image optimisation)."""
import time
from dataclasses import dataclass
from typing import Callable

import torch

from mmext.inversion.image_metrics import psnr, ssim

__all__ = ['InversionScores', 'time_and_score']


@dataclass
class InversionScores:
    """One method's inversions of a set of images.

    Attributes:
        pixels: ``[N, 3, H, W]`` in [0, 1].
        psnr: Mean PSNR (dB) against the originals.
        ssim: Mean SSIM against the originals.
        seconds_per_image: Wall time of the inversion over ``N``.
    """
    pixels: torch.Tensor
    psnr: float
    ssim: float
    seconds_per_image: float


def time_and_score(invert: Callable[[torch.Tensor], torch.Tensor],
                   features: torch.Tensor,
                   original_pixels: torch.Tensor,
                   to_pixels: Callable[[torch.Tensor], torch.Tensor],
                   repeats: int = 1) -> InversionScores:
    """Run ``invert`` on ``features`` (the best of ``repeats`` timed runs)
    and score its images.

    Args:
        invert: Features ``[N, C, h, w]`` -> normalised images
            ``[N, 3, H, W]``.
        features: The split features of the originals.
        original_pixels: ``[N, 3, H, W]`` in [0, 1].
        to_pixels: Normalised images -> [0, 1] pixels.
        repeats: Timed runs (>= 1); the fastest counts.

    Returns:
        InversionScores: The last run's images and their scores.
    """
    best = float('inf')
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        with torch.no_grad():
            images = invert(features)
        best = min(best, time.perf_counter() - start)
    pixels = to_pixels(images.detach()).clamp(0, 1)
    return InversionScores(
        pixels=pixels,
        psnr=float(psnr(pixels, original_pixels).mean()),
        ssim=float(ssim(pixels, original_pixels).mean()),
        seconds_per_image=best / len(features))
