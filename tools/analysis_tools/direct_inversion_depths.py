"""Zero-shot direct inversions of the same images at several split depths.

Direct inversion (Dong et al., "Deep Neural Networks are Surprisingly
Reversible: A Baseline for Zero-Shot Inversion", arXiv 2107.06304) gets
harder the deeper the split. This script takes trained
:class:`mmext.DirectInverter` checkpoints of one target at different splits,
draws ``--num-images`` images of the first config's test set (seeded),
prints each split's PSNR and SSIM on them as a Markdown table and writes a
grid: the originals, then one row per split.

Usage::

    python tools/analysis_tools/direct_inversion_depths.py \\
        --run CONFIG_STEM CKPT_STEM --run CONFIG_LAYER1 CKPT_LAYER1 ... \\
        --num-images 12 --out docs/images/direct_inversion_depths.png
"""
import argparse

import torch

from mmext.apis import init_model, sample_test_batch
from mmext.inversion.direct.evaluate import time_and_score
from mmext.visualization.inversion_grid import save_rows_grid


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run', nargs=2, action='append', required=True,
                        metavar=('CONFIG', 'CHECKPOINT'),
                        help='a DirectInverter and its weights (repeat, '
                        'shallow to deep)')
    parser.add_argument('--num-images', type=int, default=12)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the drawn test images')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', default='work_dirs/dci_depths.png')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    models = [init_model(config, checkpoint, strict=True)
              for config, checkpoint in args.run]
    data = models[0].data_preprocessor(
        sample_test_batch(args.run[0][0], args.num_images, args.seed), False)
    original = models[0].to_pixels(data['inputs'])
    rows = [original]
    print('| split | PSNR (dB) | SSIM |\n|---|---:|---:|')
    for model in models:
        images = model.to_unit_normalised(original)
        scores = time_and_score(model.invert, model.features(images),
                                original, model.to_pixels)
        rows.append(scores.pixels)
        print(f'| {model.split} | {scores.psnr:.2f} | {scores.ssim:.3f} |')
    save_rows_grid(args.out, rows)
    print(f'grid (rows: originals, '
          f'{", ".join(m.split for m in models)}): {args.out}')


if __name__ == '__main__':
    main()
