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
from typing import Dict, List, Optional, Sequence, Tuple

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


def select_indices(dataset, scan: Optional[str],
                   views: Optional[Sequence[int]]
                   ) -> Tuple[str, List[int], List[int]]:
    """The dataset indices of ``views`` of ``scan``.

    Items are ordered scans x reference views x lights
    (:class:`mmext.DTUMVSDataset`); of several lights the test light 3 is
    taken when present, else the first.

    Returns:
        tuple[str, list[int], list[int]]: The scan, the views (defaults
        filled in) and one dataset index per view.

    Raises:
        ValueError: If the scan or a view is not in the dataset (the
            message lists the choices).
    """
    scans, ref_views = dataset.scans, dataset.ref_views
    lights = list(dataset.lights)
    scan = scans[0] if scan is None else scan
    if scan not in scans:
        raise ValueError(f'--scan: {scan!r} is not in the dataset; choose '
                         f'one of {scans}')
    views = ref_views[:3] if views is None else list(views)
    missing = [v for v in views if v not in ref_views]
    if missing or not views:
        raise ValueError(f'--views: {missing or views} are not reference '
                         f'views of the dataset; choose from {ref_views}')
    light = lights.index(3) if 3 in lights else 0
    base = scans.index(scan) * len(ref_views)
    return scan, views, [(base + ref_views.index(v)) * len(lights) + light
                  for v in views]


class RecordingSubset:
    """Some items of a dataset, keeping each item's finest ground-truth
    depth (None without) by ``(scan, view)`` as it passes."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)
        self.gt: Dict[Tuple[str, int], object] = {}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[self.indices[index]]
        depths = item.get('depths')
        meta = item['meta']
        self.gt[(str(meta['scan']), int(meta['view']))] = (
            depths[0].numpy() if depths else None)
        return item


def run(model, dataset, args: argparse.Namespace):
    """Predict the chosen views and write the figure.

    Returns:
        matplotlib.figure.Figure: The figure written to ``args.out``.
    """
    from mmext.mvs import predict_views
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
