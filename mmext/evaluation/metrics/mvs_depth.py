"""Depth-map errors of multi-view stereo predictions.

The quick validation metric of MVS networks (MVSNet, CVP-MVSNet: Yang et
al., "Cost Volume Pyramid Based Depth Inference for Multi-View Stereo",
CVPR 2020): the mean absolute depth error on pixels with ground truth and
the fraction of those pixels whose error is within a threshold, in scene
units (DTU's 2 mm and 4 mm) and relative to the scene's depth range. The
point-cloud metrics of the DTU benchmark (Aanaes et al., IJCV 2016) are in
:mod:`mmext.evaluation.point_cloud`.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmext.registry import METRICS

__all__ = ['MVSDepthMetric', 'depth_error_stats']


def _number(x) -> str:
    """``2.0 -> '2.0'``, ``0.5 -> '0.5'``, ``0.25 -> '0.25'``."""
    text = f'{float(x):g}'
    return text if any(c in text for c in '.e') else text + '.0'


def _as_tensor(value, name: str) -> torch.Tensor:
    if value is None:
        raise KeyError(name)
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    return torch.as_tensor(value).detach().to('cpu', torch.float64)


def depth_error_stats(depth: torch.Tensor,
                      gt_depth: torch.Tensor,
                      thresholds: Sequence[float] = ()) -> Dict[str, object]:
    """Per-image sums of depth errors on the pixels with ground truth.

    Args:
        depth (Tensor): [H, W] predicted depth.
        gt_depth (Tensor): [H, W] ground truth; pixels with ``gt > 0`` are
            valid.
        thresholds (Sequence[float]): Absolute error thresholds, in depth
            units.

    Returns:
        dict: ``num_valid`` (int), ``abs_err_sum`` (float, sum of
        ``|depth - gt|`` over valid pixels), ``within`` (list[int], valid
        pixels with ``|depth - gt| <= t`` for each threshold).

    Raises:
        ValueError: If the shapes differ.
    """
    if depth.shape != gt_depth.shape:
        raise ValueError(f'depth {tuple(depth.shape)} and gt_depth '
                         f'{tuple(gt_depth.shape)} differ in shape; the '
                         'ground truth must be at the prediction\'s '
                         'resolution')
    valid = gt_depth > 0
    error = (depth[valid] - gt_depth[valid]).abs()
    # A NaN prediction counts as an infinite error, never as within.
    error = torch.nan_to_num(error, nan=float('inf'))
    return dict(
        num_valid=int(valid.sum()),
        abs_err_sum=float(error.sum()),
        within=[int((error <= t).sum()) for t in thresholds])


@METRICS.register_module()
class MVSDepthMetric(BaseMetric):
    """Mean absolute depth error and threshold accuracies of MVS depth maps.

    Each prediction is a dict (the model's ``predict`` mode output) with
    ``depth`` [H, W], ``gt_depth`` [H, W] (pixels with ``gt_depth > 0`` are
    valid), ``depth_min`` and ``depth_max`` (scalars), and optionally
    ``level_depths`` / ``level_gt_depths``: lists of [H_l, W_l] maps, one
    per pyramid level (finest first), for a per-level error.

    Every ratio is pixel-weighted over the whole set (the number of valid
    pixels within the threshold in all images, divided by the number of
    valid pixels in all images), not a mean of per-image ratios. An error
    exactly at a threshold counts as within it. ``process`` keeps only a
    few numbers per image, which MMEngine gathers from every rank.

    Keys (with the prefix, ``mvs/`` by default):

    - ``mae``: mean absolute error, in depth units;
    - ``within_{t}``: for each ``t`` of ``abs_thresholds``, the fraction of
      valid pixels with ``|depth - gt| <= t`` (e.g. ``within_2.0``; DTU's
      depth units are mm);
    - ``within_{100 r}pct_range``: for each ``r`` of ``range_thresholds``,
      the fraction with ``|depth - gt| <= r * (depth_max - depth_min)``
      (e.g. ``within_1.0pct_range``);
    - ``mae_level{l}``: per pyramid level ``l`` (0 is the finest), when the
      predictions carry level lists;
    - ``num_valid``: the number of valid pixels evaluated.

    Args:
        abs_thresholds (Sequence[float]): Thresholds in depth units.
            Defaults to DTU's 2 mm and 4 mm.
        range_thresholds (Sequence[float]): Thresholds as fractions of
            each image's depth range.
        collect_device (str): Device to gather results across ranks.
        prefix (str, optional): Key prefix. Defaults to ``'mvs'``.
    """

    default_prefix: Optional[str] = 'mvs'

    def __init__(self,
                 abs_thresholds: Sequence[float] = (2.0, 4.0),
                 range_thresholds: Sequence[float] = (0.005, 0.01, 0.02),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        for name, values in (('abs_thresholds', abs_thresholds),
                             ('range_thresholds', range_thresholds)):
            if any(not float(v) > 0 for v in values):
                raise ValueError(f'MVSDepthMetric.{name}: every threshold '
                                 f'must be > 0, got {list(values)}')
        self.abs_thresholds = tuple(float(v) for v in abs_thresholds)
        self.range_thresholds = tuple(float(v) for v in range_thresholds)

    def _get(self, sample: dict, key: str) -> torch.Tensor:
        try:
            return _as_tensor(sample.get(key), key)
        except KeyError:
            hint = ''
            if key == 'gt_depth':
                hint = ('; the test dataloader must load depth maps '
                        "(e.g. dict(type='mmext.DTUMVSDataset', "
                        'with_depth=True, ...); the test split loads none '
                        "by default) so that the model's predict mode "
                        "returns 'gt_depth'")
            raise KeyError(f'MVSDepthMetric: the prediction has no {key!r} '
                           f'(it has {sorted(sample)}){hint}') from None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the error sums of each prediction (see the class doc)."""
        for sample in data_samples:
            depth = self._get(sample, 'depth')
            gt = self._get(sample, 'gt_depth')
            depth_range = float(self._get(sample, 'depth_max')) - \
                float(self._get(sample, 'depth_min'))
            if not depth_range > 0:
                raise ValueError('MVSDepthMetric: depth_max must exceed '
                                 f'depth_min, got a range of {depth_range}')
            thresholds = self.abs_thresholds + tuple(
                r * depth_range for r in self.range_thresholds)
            stats = depth_error_stats(depth, gt, thresholds)
            result = dict(
                num_valid=stats['num_valid'],
                abs_err_sum=stats['abs_err_sum'],
                within=stats['within'])
            has_levels = [k in sample for k in ('level_depths',
                                                'level_gt_depths')]
            if any(has_levels):
                if not all(has_levels):
                    missing = ('level_gt_depths'
                               if has_levels[0] else 'level_depths')
                    raise KeyError(
                        f'MVSDepthMetric: the prediction has no {missing!r}'
                        '; per-level errors need both level_depths and '
                        'level_gt_depths')
                levels = sample['level_depths']
                gts = sample['level_gt_depths']
                if len(levels) != len(gts):
                    raise ValueError(
                        f'MVSDepthMetric: {len(levels)} level_depths but '
                        f'{len(gts)} level_gt_depths')
                level_stats = [
                    depth_error_stats(
                        _as_tensor(d, 'level_depths'),
                        _as_tensor(g, 'level_gt_depths'))
                    for d, g in zip(levels, gts)
                ]
                result['level_num_valid'] = [
                    s['num_valid'] for s in level_stats]
                result['level_abs_err_sum'] = [
                    s['abs_err_sum'] for s in level_stats]
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Pixel-weighted means over every image of every rank."""
        total = sum(r['num_valid'] for r in results)
        if not total:
            raise ValueError(
                'MVSDepthMetric: no pixel with ground truth (gt_depth > 0) '
                f'in {len(results)} predictions; check that the depth maps '
                'were loaded')
        within = np.sum([r['within'] for r in results], axis=0)
        metrics = {'mae': sum(r['abs_err_sum'] for r in results) / total}
        keys = [f'within_{_number(t)}' for t in self.abs_thresholds] + [
            f'within_{_number(100 * r)}pct_range'
            for r in self.range_thresholds
        ]
        for key, count in zip(keys, within):
            metrics[key] = float(count) / total
        with_levels = [r for r in results if 'level_num_valid' in r]
        if with_levels:
            num_levels = min(len(r['level_num_valid']) for r in with_levels)
            for level in range(num_levels):
                count = sum(r['level_num_valid'][level] for r in with_levels)
                error = sum(r['level_abs_err_sum'][level]
                            for r in with_levels)
                metrics[f'mae_level{level}'] = (
                    error / count if count else float('nan'))
        metrics['num_valid'] = float(total)
        return metrics
