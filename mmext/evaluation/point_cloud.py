"""Accuracy and completeness of a reconstructed point cloud (the DTU
protocol of Aanaes et al., "Large-Scale Data for Multiple-View
Stereopsis", IJCV 2016).

The official evaluation is MATLAB code shipped with the DTU data
(``BaseEvalMain_web.m``, ``PointCompareMain.m``, ``reducePts_haa.m``,
``ComputeStat_web.m``). This module reproduces its point-to-point part in
numpy and scipy:

1. The reconstruction is thinned to a minimum spacing (``dst = 0.2`` mm):
   its points are visited in a random order; a point that is still present
   is kept and every point within ``dst`` of it is removed
   (:func:`thin_points`).
2. Accuracy: for every kept reconstructed point, the distance to the
   nearest ground-truth (structured-light, "STL") point. Completeness: for
   every ground-truth point, the distance to the nearest kept reconstructed
   point (:func:`nearest_distances`).
3. Distances of 20 mm or more are outliers: each of the two means averages
   only the distances below the cut. Overall is the mean of accuracy and
   completeness.

Not reproduced, and why:

- **Observability mask** (``ObsMask{scan}_10.mat``): DTU scores accuracy
  only on reconstructed points that fall into a voxel mask of the volume
  the structured-light scanner observed, so that points on unobserved
  surfaces are not punished. **Ground plane** (``Plane{scan}.mat``):
  completeness counts only ground-truth points above the table plane.
  Both are data files of DTU's evaluation kit, not part of any algorithm,
  and mmext's synthetic Shapes scenes have no such masks (their ground
  truth is the exact surface). Users with DTU's kit can convert them into
  boolean arrays per point and pass ``pred_mask`` (a reconstructed point
  counts for accuracy only where true; checked after thinning, as DTU does)
  and ``gt_mask`` (a ground-truth point counts for completeness only where
  true). As in DTU, the masks only choose whose distances enter a mean:
  the nearest neighbours are always searched among *all* points of the
  other cloud.
- DTU caps its distance search at 60 mm inside the scan's bounding box
  before the 20 mm cut; with the cut applied afterwards this changes no
  mean, so the search here is bounded by the cut directly.
- The random order of the thinning is MATLAB's ``randperm``; here it is
  numpy's seeded generator, so the thinned set (and the numbers, in their
  last digits) differ from MATLAB's run to run exactly as MATLAB's own
  runs differ from each other.

DTU's ground-truth files (``stl{scan:03d}_total.ply``) are already thinned
to 0.2 mm, and DTU does not thin them again. Thinning a set whose points
are all more than ``min_spacing`` apart keeps every point, so
``thin_gt=True`` (the default, which makes a dense synthetic ground truth
count every area once, however densely it was sampled) gives DTU's numbers
on DTU's files.
"""
from typing import Dict, Optional

import numpy as np
from scipy.spatial import cKDTree

__all__ = ['nearest_distances', 'point_cloud_metrics', 'thin_points']

# About how many points' neighbourhoods one search of the thinning covers.
_CHUNK = 8192


def _check_points(points: np.ndarray, name: str) -> np.ndarray:
    """``points`` as a finite float64 [N, 3] array with N > 0."""
    array = np.asarray(points)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f'{name}: expected an [N, 3] array of points, got '
                         f'shape {array.shape}')
    if len(array) == 0:
        raise ValueError(f'{name}: the point cloud is empty (0 points); '
                         'nothing to evaluate')
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f'{name}: {int((~np.isfinite(array)).any(1).sum())}'
                         ' points have NaN or infinite coordinates; remove '
                         'them before evaluating')
    return array


def _check_mask(mask: Optional[np.ndarray], num_points: int,
                name: str) -> np.ndarray:
    """``mask`` as a bool [N] array (all true when None)."""
    if mask is None:
        return np.ones(num_points, bool)
    array = np.asarray(mask)
    if array.dtype != np.bool_ or array.shape != (num_points, ):
        raise ValueError(f'{name}: expected a boolean array of shape '
                         f'({num_points},), one flag per point, got '
                         f'{array.dtype} {array.shape}')
    return array


def thin_points(points: np.ndarray,
                min_spacing: float,
                *,
                seed: int = 0,
                workers: int = 1) -> np.ndarray:
    """Thin a point set to a minimum spacing, as DTU's ``reducePts_haa``.

    Points are visited in a seeded random order. A visited point that is
    still present is kept, and every point within ``min_spacing`` of it
    (distance ``<= min_spacing``) is removed. Hence no two kept points are
    ``min_spacing`` or less apart, and every removed point lies within
    ``min_spacing`` of a kept one (the kept points form a maximal
    independent set of the ``min_spacing`` neighbourhood graph, greedy in
    the random order).

    Points with no other point within ``min_spacing`` are kept at once
    (one k=2 nearest-neighbour search). The others are visited in windows
    of the order; only those still present when their window starts are
    searched (one vectorised ``cKDTree.query_ball_point`` per window), and
    the windows widen as points are removed, so a dense cloud of 10^6
    points is thinned in seconds.

    Args:
        points (np.ndarray): [N, 3] points.
        min_spacing (float): The spacing, > 0 (DTU: 0.2 mm).
        seed (int): Seed of the random visiting order.
        workers (int): Threads of the KD-tree searches (-1: all cores).

    Returns:
        np.ndarray: int64 [K] indices of the kept points, ascending.

    Raises:
        ValueError: If ``points`` is empty or not [N, 3], or
            ``min_spacing`` is not positive.
    """
    points = _check_points(points, 'points')
    if not min_spacing > 0:
        raise ValueError(f'min_spacing: must be > 0, got {min_spacing}')
    tree = cKDTree(points)
    # A point without another point within min_spacing is kept whatever the
    # order; a bound just above min_spacing never misses a neighbour.
    second, _ = tree.query(points, k=2,
                           distance_upper_bound=np.nextafter(
                               min_spacing, np.inf), workers=workers)
    order = np.random.default_rng(seed).permutation(len(points))
    order = order[np.isfinite(second[order, 1])]
    present = np.ones(len(points), bool)
    start, window = 0, _CHUNK
    while start < len(order):
        chunk = order[start:start + window]
        start += len(chunk)
        chunk = chunk[present[chunk]]  # removed before the chunk started
        # Widen the next window so that about _CHUNK points are searched.
        window = int(min(window * _CHUNK / max(len(chunk), 1), 1 << 24))
        if not len(chunk):
            continue
        neighbours = tree.query_ball_point(
            points[chunk], min_spacing, workers=workers,
            return_sorted=False)
        for index, near in zip(chunk.tolist(), neighbours):
            if present[index]:
                present[near] = False
                present[index] = True
    return np.flatnonzero(present)


def nearest_distances(queries: np.ndarray,
                      targets: np.ndarray,
                      max_distance: float = np.inf,
                      *,
                      workers: int = 1) -> np.ndarray:
    """Distance from every query point to its nearest target point.

    Args:
        queries (np.ndarray): [N, 3] points.
        targets (np.ndarray): [M, 3] points.
        max_distance (float): Distances of at least this value are
            returned as ``inf`` (a bounded search is faster).
        workers (int): Threads of the KD-tree search (-1: all cores).

    Returns:
        np.ndarray: float64 [N] Euclidean distances.
    """
    queries = _check_points(queries, 'queries')
    targets = _check_points(targets, 'targets')
    # Bound the search a little beyond max_distance; the cut is exact below.
    bound = np.nextafter(max_distance, np.inf) if np.isfinite(
        max_distance) else np.inf
    distances, _ = cKDTree(targets).query(
        queries, k=1, distance_upper_bound=bound, workers=workers)
    distances[distances >= max_distance] = np.inf
    return distances


def point_cloud_metrics(pred_points: np.ndarray,
                        gt_points: np.ndarray,
                        *,
                        min_spacing: float = 0.2,
                        outlier_cut: float = 20.0,
                        seed: int = 0,
                        pred_mask: Optional[np.ndarray] = None,
                        gt_mask: Optional[np.ndarray] = None,
                        thin_gt: bool = True,
                        workers: int = 1) -> Dict[str, float]:
    """DTU accuracy, completeness and overall of a reconstructed cloud.

    See the module docstring for the protocol (Aanaes et al., IJCV 2016)
    and for what of DTU's MATLAB evaluation is not reproduced.

    Args:
        pred_points (np.ndarray): [N, 3] reconstructed points, in the
            ground truth's units (DTU: mm).
        gt_points (np.ndarray): [M, 3] ground-truth points.
        min_spacing (float): Thinning spacing (DTU: 0.2 mm). ``0`` turns
            thinning off.
        outlier_cut (float): Distances of at least this value are left out
            of both means (DTU: 20 mm).
        seed (int): Seed of the thinning order.
        pred_mask (np.ndarray, optional): bool [N]; only reconstructed
            points where true count for accuracy (DTU's observability
            mask, converted to points).
        gt_mask (np.ndarray, optional): bool [M]; only ground-truth points
            where true count for completeness (DTU: above the ground
            plane).
        thin_gt (bool): Thin the ground truth too (a no-op on DTU's
            already thinned files). Defaults to True.
        workers (int): Threads of the KD-tree searches (-1: all cores).

    Returns:
        dict[str, float]: ``accuracy`` (mean reconstructed-to-GT distance
        below the cut), ``completeness`` (mean GT-to-reconstructed distance
        below the cut), ``overall`` (their mean); ``num_pred`` and
        ``num_gt`` (points after thinning and masking) and
        ``num_pred_used`` and ``num_gt_used`` (of those, the ones whose
        distance is below the cut, i.e. averaged). A mean over no
        distances is NaN.

    Raises:
        ValueError: If a cloud is empty, not [N, 3] or not finite (the
            message names the argument), a mask does not match its cloud,
            ``min_spacing`` is negative or ``outlier_cut`` not positive.
    """
    pred = _check_points(pred_points, 'pred_points')
    gt = _check_points(gt_points, 'gt_points')
    pred_mask = _check_mask(pred_mask, len(pred), 'pred_mask')
    gt_mask = _check_mask(gt_mask, len(gt), 'gt_mask')
    if min_spacing < 0:
        raise ValueError(f'min_spacing: must be >= 0, got {min_spacing}')
    if not outlier_cut > 0:
        raise ValueError(f'outlier_cut: must be > 0, got {outlier_cut}')
    if min_spacing > 0:
        kept = thin_points(pred, min_spacing, seed=seed, workers=workers)
        pred, pred_mask = pred[kept], pred_mask[kept]
        if thin_gt:
            kept = thin_points(gt, min_spacing, seed=seed, workers=workers)
            gt, gt_mask = gt[kept], gt_mask[kept]
    # Distances from the masked points to all points of the other cloud.
    to_gt = nearest_distances(pred[pred_mask], gt, outlier_cut,
                              workers=workers) if pred_mask.any() else \
        np.zeros(0)
    to_pred = nearest_distances(gt[gt_mask], pred, outlier_cut,
                                workers=workers) if gt_mask.any() else \
        np.zeros(0)
    to_gt, to_pred = to_gt[np.isfinite(to_gt)], to_pred[np.isfinite(to_pred)]
    accuracy = float(to_gt.mean()) if len(to_gt) else float('nan')
    completeness = float(to_pred.mean()) if len(to_pred) else float('nan')
    return dict(
        accuracy=accuracy,
        completeness=completeness,
        overall=(accuracy + completeness) / 2,
        num_pred=int(pred_mask.sum()),
        num_gt=int(gt_mask.sum()),
        num_pred_used=len(to_gt),
        num_gt_used=len(to_pred))
