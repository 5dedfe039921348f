# Copyright (c) mmext contributors. All rights reserved.
"""Figures of a self-training run: one test view's depth after every stage,
and one training view's pseudo labels in every round.

Usage::

    python tools/mvs/plot_self_training.py WORK_DIR TEST_CONFIG --out PNG \\
        [--scan scan13] [--view 0] [--labels-out PNG] \\
        [--train-root data/shapes_mvs/train] [--train-scan scan1] \\
        [--train-view 0] [--max-error MM] [--device cpu]

WORK_DIR is a ``tools/mvs/self_train.py`` work dir. Each stage with a
finished run (``unsupervised``, ``round1``, ``round2``, ...; the checkpoint
its ``last_checkpoint`` names) predicts the view with TEST_CONFIG's model
and test set; the rows of ``--out`` are the stages (image, depth, ground
truth, confidence, absolute error). ``--labels-out`` adds the pseudo
labels of ``WORK_DIR/pseudo/round{k}`` for a training view beside the
training root's ground truth (the confidence column shows where a label
exists).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Depth of one view through the self-training stages')
    parser.add_argument('work_dir', help='tools/mvs/self_train.py work dir')
    parser.add_argument('config', help='test config (model and test set)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--scan', default=None, help='test scan')
    parser.add_argument('--view', type=int, default=0, help='test view')
    parser.add_argument('--labels-out', default=None,
                        help='PNG of the pseudo labels of every round')
    parser.add_argument('--train-root', default=None,
                        help='training DTU root (images, ground truth)')
    parser.add_argument('--train-scan', default='scan1')
    parser.add_argument('--train-view', type=int, default=0)
    parser.add_argument('--max-error', type=float, default=None)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def stage_checkpoints(work_dir: str) -> List[Tuple[str, str]]:
    """``(title, checkpoint)`` of every stage that saved one, in order."""
    from mmext.mvs.self_training import round_numbers
    stages = [('stage 1 (unsupervised)', 'unsupervised')] + [
        (f'round {k}', f'round{k}') for k in round_numbers(work_dir)
    ]
    found = []
    for title, folder in stages:
        pointer = osp.join(work_dir, folder, 'last_checkpoint')
        if osp.isfile(pointer):
            with open(pointer, encoding='utf-8') as handle:
                found.append((title, handle.read().strip()))
    if not found:
        raise ValueError(f'{work_dir!r} holds no stage with a checkpoint '
                         '(expected unsupervised/ and round*/ work dirs)')
    return found


def stage_rows(args: argparse.Namespace) -> dict:
    """Predictions of the chosen test view by every stage."""
    from mmext.apis.inference import init_model_and_test_dataset
    from mmext.mvs import predict_views
    from mmext.mvs.predict import RecordingSubset, select_indices
    rows = dict(images=[], depths=[], gt_depths=[], confidences=[],
                titles=[])
    for title, checkpoint in stage_checkpoints(args.work_dir):
        model, dataset = init_model_and_test_dataset(args.config, checkpoint,
                                                     args.device)
        scan, _, indices = select_indices(dataset, args.scan, [args.view])
        subset = RecordingSubset(dataset, indices)
        prediction = predict_views(model, subset,
                                   progress=False)[scan][args.view]
        rows['images'].append(prediction.image)
        rows['depths'].append(prediction.depth)
        rows['gt_depths'].append(subset.gt[(scan, args.view)])
        rows['confidences'].append(prediction.confidence)
        rows['titles'].append(f'{title}: {scan} view {args.view}')
    return rows


def label_rows(args: argparse.Namespace) -> dict:
    """The pseudo labels of one training view in every round."""
    import numpy as np
    from PIL import Image

    from mmext.datasets.dtu_io import DTULayout, read_pfm
    if args.train_root is None:
        raise ValueError('--labels-out needs --train-root (the training DTU '
                         'root, for the image and the ground truth)')
    layout = DTULayout(args.train_root)
    scan, view = args.train_scan, args.train_view
    with Image.open(layout.train_image(scan, view, 3)) as image:
        picture = np.asarray(image.convert('RGB'))
    gt = read_pfm(layout.depth_file(scan, view))
    from mmext.mvs.self_training import round_numbers
    rows = dict(images=[], depths=[], gt_depths=[], confidences=[],
                titles=[])
    for k in round_numbers(osp.join(args.work_dir, 'pseudo')):
        labels = DTULayout(osp.join(args.work_dir, 'pseudo', f'round{k}'))
        path = labels.depth_file(scan, view)
        if not osp.isfile(path):
            continue
        label = read_pfm(path)
        rows['images'].append(picture)
        rows['depths'].append(label)
        rows['gt_depths'].append(gt)
        rows['confidences'].append((label > 0).astype(np.float32))
        rows['titles'].append(f'round {k} labels: {scan} view {view}')
    if not rows['titles']:
        raise ValueError(f'no pseudo labels of {scan} view {view} under '
                         f'{args.work_dir}/pseudo/round*')
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    from mmext.visualization.mvs_depths import plot_depth_views
    args = parse_args(argv)
    try:
        plot_depth_views(**stage_rows(args), max_error=args.max_error,
                         path=args.out)
        print(f'stages -> {args.out}')
        if args.labels_out:
            plot_depth_views(**label_rows(args), max_error=args.max_error,
                             path=args.labels_out)
            print(f'pseudo labels -> {args.labels_out}')
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
