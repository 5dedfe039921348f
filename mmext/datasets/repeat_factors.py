"""Image-level repeat factors for long-tailed detection (Gupta et al., LVIS,
CVPR 2019; used by RIO: Chang et al., "Image-Level or Object-Level? A Tale
of Two Resampling Strategies for Long-Tailed Detection", ICML 2021, arXiv
2104.05702).

``f(c)`` is the fraction of images that contain class ``c``;
``r(c) = max(1, sqrt(t / f(c)))``; an image repeats ``r(I) = max_{c in I}
r(c)`` times in expectation (1 for an image without annotations).
Repeats are drawn by stochastic rounding, ``floor(r) + Bernoulli(r -
floor(r))``, anew every epoch, as in RIO's Detectron2 sampler; mmengine's
``ClassBalancedDataset`` rounds up once instead.
"""
from typing import Sequence

import numpy as np
import torch


def compute_repeat_factors(cat_ids_per_image: Sequence[Sequence[int]],
                           repeat_thr: float) -> np.ndarray:
    """Per-image repeat factors.

    Args:
        cat_ids_per_image (Sequence[Sequence[int]]): The categories of each
            image's annotations (repeats allowed; empty for none).
        repeat_thr (float): The threshold ``t`` (the paper: 0.001); classes
            in a larger fraction of images are not repeated.

    Returns:
        ndarray: float64 [num_images], each >= 1.
    """
    if not repeat_thr > 0:
        raise ValueError(f'repeat_thr must be > 0, got {repeat_thr}')
    num_images = len(cat_ids_per_image)
    if num_images == 0:
        raise ValueError('compute_repeat_factors: no images')
    images_with: dict = {}
    for cats in cat_ids_per_image:
        for cat in set(int(c) for c in cats):
            images_with[cat] = images_with.get(cat, 0) + 1
    class_factor = {
        cat: max(1.0, float(np.sqrt(repeat_thr / (count / num_images))))
        for cat, count in images_with.items()
    }
    return np.array([
        max([class_factor[int(c)] for c in cats], default=1.0)
        for cats in cat_ids_per_image
    ],
                    dtype=np.float64)


def stochastic_repeats(repeat_factors: np.ndarray,
                       generator: torch.Generator) -> torch.Tensor:
    """One epoch's repeat counts: ``floor(r) + Bernoulli(frac(r))``.

    Args:
        repeat_factors (ndarray): [num_images], each >= 1.
        generator (torch.Generator): Source of the Bernoulli draws.

    Returns:
        LongTensor: [num_images] counts.
    """
    factors = torch.as_tensor(repeat_factors, dtype=torch.float64)
    whole = torch.floor(factors)
    extra = torch.rand(factors.shape, generator=generator,
                       dtype=torch.float64) < (factors - whole)
    return (whole + extra).long()
