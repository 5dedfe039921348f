# Copyright (c) mmext contributors. All rights reserved.
"""How often GradInversion's label rule recovers a batch's labels.

Usage::

    python tools/analysis_tools/gradinversion_labels.py CONFIG CHECKPOINT
        [--batch-size 8] [--trials 100]
        [--sampling distinct_labels random] [--seed 0] [--out FILE.json]

Draws ``--trials`` batches from the config's ``test_dataloader`` dataset
for each sampling and builds each batch's target as
``mmext.GradInversionLoop`` does (:func:`mmext.inversion.dataset_target`:
the averaged gradients with the model in eval mode, and the labels
:func:`mmext.inversion.recover_labels` finds in the last linear layer's
weight gradient; Yin et al., "See through Gradients: Image Batch Recovery
via GradInversion", CVPR 2021, arXiv 2104.07586, Eq. 8). Prints the share
of labels recovered (as multisets) and of batches recovered exactly.
"""
import argparse
import json
import sys

import mmext  # noqa: F401  (registries)
from mmengine.utils import ProgressBar

from mmext.apis import init_model
from mmext.evaluation.metrics import multiset_label_hits
from mmext.inversion import (dataset_labels, dataset_target,
                             draw_target_batches)
from mmext.registry import DATASETS
from mmext.utils.atomic import atomic_write


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--trials', type=int, default=100)
    parser.add_argument(
        '--sampling',
        nargs='+',
        default=['distinct_labels', 'random'],
        choices=['distinct_labels', 'random'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the rates as JSON')
    return parser.parse_args(argv)


def label_recovery_rates(model, dataset, batch_size: int, trials: int,
                         sampling: str, seed: int) -> dict:
    """Label-level and batch-level recovery rates (percent)."""
    batches = draw_target_batches(
        dataset_labels(dataset), batch_size, trials, sampling, seed)
    hits = exact = 0
    progress = ProgressBar(len(batches))
    for indices in batches:
        target = dataset_target(model, dataset, indices, 'recovered',
                                with_features=False)
        batch_hits = multiset_label_hits(target.true_labels.tolist(),
                                         target.recovered_labels.tolist())
        hits += batch_hits
        exact += batch_hits == batch_size
        progress.update()
    print()
    return dict(
        sampling=sampling,
        batch_size=batch_size,
        trials=trials,
        label_accuracy=100.0 * hits / (trials * batch_size),
        exact_batches=100.0 * exact / trials)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        model = init_model(args.config, args.checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
    rows = []
    for sampling in args.sampling:
        try:
            rows.append(
                label_recovery_rates(model, dataset, args.batch_size,
                                     args.trials, sampling, args.seed))
        except ValueError as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 1
    print('| sampling | batch | batches | labels recovered | exact batches |')
    print('|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['sampling']} | {r['batch_size']} | {r['trials']} | "
              f"{r['label_accuracy']:.2f} % | {r['exact_batches']:.1f} % |")
    if args.out:

        def write(tmp: str) -> None:
            with open(tmp, 'w') as handle:
                json.dump(rows, handle, indent=2)

        atomic_write(args.out, write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
