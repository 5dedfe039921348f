# Copyright (c) mmext contributors. All rights reserved.
"""PSNR and SSIM of trivial "reconstructions" of a GradInversion config's
attacked batches: the floor a real reconstruction has to beat.

Usage::

    python tools/analysis_tools/gradinversion_baselines.py CONFIG

Draws the same batches as ``mmext.GradInversionLoop`` (``test_cfg``'s
batch size, count, sampling and seed) and scores three guesses that use no
gradient: a uniform grey image (0.5), the mean attacked image, and each image
painted in its own mean colour (an oracle). Yin et al., "See through
Gradients", CVPR 2021 (arXiv 2104.07586) report PSNR; on textured images a
low-contrast guess already scores well, so read PSNR against these rows.
"""
import argparse
import sys

import mmext  # noqa: F401  (registries)
import torch
from mmengine.config import Config

from mmext.inversion import (dataset_labels, draw_target_batches, psnr,
                             ssim)
from mmext.registry import DATASETS


def rgb_unit(item: dict) -> torch.Tensor:
    """A packed dataset item's image as [C, H, W] RGB in [0, 1] (the
    pipeline packs OpenCV's BGR order)."""
    return item['inputs'].flip(0).float() / 255.0


def baseline_scores(images: torch.Tensor) -> dict:
    """Mean PSNR (dB) and SSIM of the three guesses for ``images``
    [N, 3, H, W] in [0, 1]."""
    guesses = {
        'uniform grey 0.5': torch.full_like(images, 0.5),
        'mean image': images.mean(0, keepdim=True).expand_as(images),
        'own mean colour (oracle)':
        images.mean((2, 3), keepdim=True).expand_as(images),
    }
    return {
        name: (psnr(guess, images).mean().item(),
               ssim(guess, images).mean().item())
        for name, guess in guesses.items()
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    loop = cfg.test_cfg
    batches = draw_target_batches(
        dataset_labels(dataset), loop.batch_size, loop.num_batches,
        loop.get('sampling', 'distinct_labels'), loop.get('seed', 0))
    images = torch.stack(
        [rgb_unit(dataset[i]) for batch in batches for i in batch])
    print('| guess | PSNR (dB) | SSIM |')
    print('|---|---:|---:|')
    for name, (value, structure) in baseline_scores(images).items():
        print(f'| {name} | {value:.2f} | {structure:.3f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
