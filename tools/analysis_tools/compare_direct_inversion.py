"""Zero-shot direct inversion, the optimisation baseline and a real-data
upper bound, side by side on the same images.

Direct inversion (Dong et al., "Deep Neural Networks are Surprisingly
Reversible: A Baseline for Zero-Shot Inversion", arXiv 2107.06304) inverts
a classifier's split features in one forward pass. This script takes a
trained :class:`mmext.DirectInverter` (the zero-shot attack), optionally a
second one of the same target and split trained on real images (an upper
bound the attacker does not have), and the optimisation baseline
(:func:`mmext.inversion.invert_features`); it draws ``--num-images``
images of the first config's test set (seeded), inverts their features
with each method in one process and prints PSNR, SSIM and seconds per
image as a Markdown table (also written to ``<out-dir>/compare.json``),
with each method's time relative to the zero-shot inverter's, and writes
``<out-dir>/compare_grid.png`` (rows: originals, then each method).

Usage::

    python tools/analysis_tools/compare_direct_inversion.py \\
        configs/direct_inversion/dci-layer1_resnet18-w32_1xb32-1kit_shapes-64px.py \\
        work_dirs/dci-layer1_resnet18-w32_1xb32-1kit_shapes-64px/iter_1500.pth \\
        --upper-bound \\
        configs/direct_inversion/dci-layer1-real_resnet18-w32_1xb32-1kit_shapes-64px.py \\
        work_dirs/dci-layer1-real_resnet18-w32_1xb32-1kit_shapes-64px/iter_1500.pth \\
        --num-images 64 --out-dir work_dirs/dci_compare/layer1
"""
import argparse
import datetime
import os.path as osp
from typing import Dict

import torch

from mmext.apis import init_model, sample_test_batch
from mmext.inversion.direct.evaluate import InversionScores, time_and_score
from mmext.utils.atomic import atomic_write_json
from mmext.utils.benchmark import describe_device
from mmext.visualization.inversion_grid import save_rows_grid


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the zero-shot DirectInverter config')
    parser.add_argument('checkpoint', help='its trained weights')
    parser.add_argument('--upper-bound', nargs=2,
                        metavar=('CONFIG', 'CHECKPOINT'),
                        help='a DirectInverter of the same target and split '
                        'trained on real images')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the drawn test images')
    parser.add_argument('--baseline-iterations', type=int, default=1000)
    parser.add_argument('--baseline-lr', type=float, default=0.1)
    parser.add_argument('--grid-images', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed runs of the feed-forward inverters '
                        '(the fastest counts)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out-dir', default='work_dirs/dci_compare')
    return parser.parse_args(argv)


def check_same_attack(zero_shot, upper_bound) -> None:
    """The upper bound must invert the same split at the same size."""
    for field in ('split', 'image_size', 'feature_shape'):
        if getattr(zero_shot, field) != getattr(upper_bound, field):
            raise ValueError(
                f'--upper-bound: its {field} {getattr(upper_bound, field)} '
                f'differs from the zero-shot inverter\'s '
                f'{getattr(zero_shot, field)}; compare inverters of the same '
                'split and image size')


def markdown_table(results: Dict[str, InversionScores]) -> str:
    reference = results['zero-shot'].seconds_per_image
    lines = ['| method | PSNR (dB) | SSIM | ms / image | time vs zero-shot |',
             '|---|---:|---:|---:|---:|']
    for name, r in results.items():
        lines.append(f'| {name} | {r.psnr:.2f} | {r.ssim:.3f} | '
                     f'{r.seconds_per_image * 1e3:.3f} | '
                     f'{r.seconds_per_image / reference:.0f}x |')
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    zero_shot = init_model(args.config, args.checkpoint, strict=True)
    inverters = {'zero-shot': zero_shot}
    if args.upper_bound:
        upper = init_model(*args.upper_bound, strict=True)
        check_same_attack(zero_shot, upper)
        inverters['real-data upper bound'] = upper
    data = zero_shot.data_preprocessor(
        sample_test_batch(args.config, args.num_images, args.seed), False)
    images = data['inputs']
    original = zero_shot.to_pixels(images)
    features = zero_shot.features(images)
    results = {
        name: time_and_score(model.invert, features, original,
                             model.to_pixels, args.repeats)
        for name, model in inverters.items()
    }
    results['optimisation baseline'] = time_and_score(
        lambda f: zero_shot.invert_by_optimisation(
            f, iterations=args.baseline_iterations, lr=args.baseline_lr,
            progress=True), features, original, zero_shot.to_pixels)
    table = markdown_table(results)
    print(f'\n{describe_device(torch.device("cpu"), args.threads)}, '
          f'{datetime.date.today()}, split {zero_shot.split!r}, '
          f'{args.num_images} test images (seed {args.seed}), baseline '
          f'{args.baseline_iterations} iterations\n\n{table}')
    summary = dict(
        split=zero_shot.split, num_images=args.num_images, seed=args.seed,
        baseline_iterations=args.baseline_iterations,
        methods={name: dict(psnr=r.psnr, ssim=r.ssim,
                            seconds_per_image=r.seconds_per_image)
                 for name, r in results.items()})
    atomic_write_json(osp.join(args.out_dir, 'compare.json'), summary)
    count = min(args.grid_images, args.num_images)
    save_rows_grid(osp.join(args.out_dir, 'compare_grid.png'),
                   [original[:count]] +
                   [r.pixels[:count] for r in results.values()])
    print(f'grid (rows: originals, {", ".join(results)}): '
          f'{osp.join(args.out_dir, "compare_grid.png")}')


if __name__ == '__main__':
    main()
