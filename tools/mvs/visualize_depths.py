# Copyright (c) mmext contributors. All rights reserved.
"""Figure of predicted depth maps next to the ground truth for a few test
views.

Usage::

    python tools/mvs/visualize_depths.py CONFIG CHECKPOINT --out PNG \\
        [--scan scan3] [--views 0 1 2] [--no-error] [--max-error MM] \\
        [--device cpu] [--cfg-options KEY=VALUE ...]

The config's ``test_dataloader.dataset`` (``mmext.DTUMVSDataset``) is
built and the model (:func:`mmext.apis.init_model`) runs on the chosen
reference views of one scan (default: the first scan, its first three
reference views) through :func:`mmext.mvs.predict_views`. The figure
(:func:`mmext.visualization.mvs_depths.plot_depth_views`) has one row per
view: the reference image, the predicted depth, the ground truth on the same
colour scale (invalid pixels black), the confidence and the absolute error.
Ground truth comes from the dataset's depth maps (``with_depth=True``, as in
the Shapes-MVS test config); without them those panels stay black.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmext.utils.cli import add_model_arguments
    parser = argparse.ArgumentParser(
        description='Plot predicted depth maps, ground truth, confidence '
        'and error for a few test views')
    add_model_arguments(parser)
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--scan', default=None,
                        help='scan to show (default: the first)')
    parser.add_argument('--views', type=int, nargs='+', default=None,
                        help='reference views (default: the first three)')
    parser.add_argument('--no-error', action='store_true',
                        help='leave out the absolute-error column')
    parser.add_argument('--max-error', type=float, default=None,
                        help='top of the error colour scale (default: the '
                        'largest error of each row)')
    return parser.parse_args(argv)


def run(model, dataset, args: argparse.Namespace):
    """Predict the chosen views and write the figure.

    Returns:
        matplotlib.figure.Figure: The figure written to ``args.out``.
    """
    from mmext.mvs import predict_views
    from mmext.mvs.predict import RecordingSubset, select_indices
    from mmext.visualization.mvs_depths import plot_depth_views
    scan, order, indices = select_indices(dataset, args.scan, args.views)
    subset = RecordingSubset(dataset, indices)
    predictions = predict_views(model, subset, progress=False)
    views = predictions.get(scan, {})
    if sorted(views) != sorted(set(order)):
        raise ValueError(f'the dataset items of {scan} views {order} are '
                         f'views {sorted(views)} of {sorted(predictions)}; '
                         'the dataset must order its items scans x '
                         'reference views x lights')
    rows = [views[v] for v in order]
    fig = plot_depth_views(
        images=[p.image for p in rows],
        depths=[p.depth for p in rows],
        gt_depths=[subset.gt[(scan, v)] for v in order],
        confidences=[p.confidence for p in rows],
        titles=[f'{scan} view {v}' for v in order],
        show_error=not args.no_error,
        max_error=args.max_error,
        path=args.out)
    print(f'{scan} views {order} -> {args.out}')
    return fig


def main(argv: Optional[List[str]] = None) -> int:
    from mmext.utils.cli import run_on_test_set
    return run_on_test_set(run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
