# Copyright (c) mmext contributors. All rights reserved.
"""PSNR and SSIM of trivial "reconstructions" of a GradInversion config's
attacked batches: the floor a real reconstruction has to beat.

Usage::

    python tools/analysis_tools/gradinversion_baselines.py CONFIG \
        [--checkpoint CKPT]

Draws the same batches as ``mmext.GradInversionLoop`` (``test_cfg``'s
batch size, count, sampling and seed) and scores three guesses that use no
gradient: a uniform grey image (0.5), the mean attacked image, and each image
painted in its own mean colour (an oracle). Yin et al., "See through
Gradients", CVPR 2021 (arXiv 2104.07586) report PSNR; on textured images a
low-contrast guess already scores well, so read PSNR against these rows.

With ``--checkpoint`` (the attacked model) it also prints, for the first
batch, the config's gradient distance between the true batch's gradients
and those of near misses of it (circular shifts, a mirror image, box blurs,
lowered contrast) and of the guesses: how far apart in gradient space
images that score a given PSNR are, to read an attack's final distance
against.
"""
import argparse
import sys
from typing import Dict

import mmext  # noqa: F401  (registries)
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmext.apis import init_model
from mmext.engine.runner.gradinversion_loop import build_settings
from mmext.inversion import (batch_gradients, dataset_labels,
                             dataset_target, draw_target_batches, psnr, ssim)
from mmext.inversion.attack import gradient_distance
from mmext.inversion.targets import pixel_mean_std, unit_images
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


def near_misses(images: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Perturbed copies of ``images`` [N, 3, H, W] in [0, 1], and two of
    :func:`baseline_scores`' guesses (uniform grey, own mean colour)."""
    own_mean = images.mean((2, 3), keepdim=True)
    guesses = {'true batch': images}
    for pixels in (2, 4, 8):
        guesses[f'shifted {pixels} px (circular)'] = images.roll(pixels, -1)
    guesses['mirrored'] = images.flip(-1)
    for size in (3, 5, 9):
        guesses[f'box blur {size}x{size}'] = F.avg_pool2d(
            images, size, 1, size // 2, count_include_pad=False)
    for factor in (0.7, 0.5):
        guesses[f'contrast x{factor} (about own mean)'] = \
            own_mean + factor * (images - own_mean)
    guesses['uniform grey 0.5'] = torch.full_like(images, 0.5)
    guesses['own mean colour (oracle)'] = own_mean.expand_as(images)
    return guesses


def gradient_distances(cfg: Config, checkpoint: str, dataset,
                       indices) -> Dict[str, tuple]:
    """(PSNR, gradient distance to the true batch) of each
    :func:`near_misses` guess for the batch ``indices``, with the config's
    model (weights from ``checkpoint``) and ``test_cfg.attack``'s distance
    (``InversionSettings``' default, the paper's L2, when the config does
    not set it). The true batch's gradients are the target the loop
    attacks (:func:`mmext.inversion.dataset_target`); every guess is
    differentiated with the batch's true labels."""
    model = init_model(cfg, checkpoint)
    target = dataset_target(model, dataset, indices, 'true',
                            with_features=False)
    labels = target.true_labels
    mean, std = pixel_mean_std(model)
    truth = unit_images(target.images, mean, std)
    distance = gradient_distance(
        build_settings(cfg.test_cfg.get('attack', {})).grad_distance)

    def normalise(guess: torch.Tensor) -> torch.Tensor:
        return (guess - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)

    return {
        name: (psnr(guess, truth).mean().item(),
               distance(batch_gradients(model, normalise(guess), labels),
                        target.gradients).item())
        for name, guess in near_misses(truth).items()
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint',
                        help='the attacked model: also print gradient '
                        'distances of near misses of the first batch')
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
    if args.checkpoint:
        rows = gradient_distances(cfg, args.checkpoint, dataset, batches[0])
        print('\n| first batch, guess | PSNR (dB) | gradient distance |')
        print('|---|---:|---:|')
        for name, (value, dist) in rows.items():
            shown = 'inf' if value == float('inf') else f'{value:.2f}'
            print(f'| {name} | {shown} | {dist:.4f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
