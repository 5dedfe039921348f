"""Depth-map fusion by geometric consistency, in numpy.

The pure-Python fusion of the MVSNet line (Xiaoyang Guo's MVSNet_pytorch,
after the consistency test of Galliani et al.'s fusibile), which
CVP-MVSNet (Yang et al., CVPR 2020; public repository
JiayuYANG/CVP-MVSNet, ``eval.py``) carries beside its fusibile scripts:

1. photometric mask: the network's confidence of the reference pixel is
   above a threshold;
2. geometric mask: each reference pixel is projected with its depth into a
   source view, the source depth is sampled there and the source point is
   projected back into the reference view; the source agrees when the
   round trip lands within ``max_reprojection_error`` pixels of the
   original pixel and its depth is within ``max_relative_depth_error`` of
   the reference depth (:func:`check_geometric_consistency`). A pixel
   needs at least ``num_consistent`` agreeing sources;
3. the fused depth is the mean of the reference depth and the agreeing
   round-trip depths; pixels that pass both masks are back-projected into
   world coordinates and coloured from the reference image
   (:func:`fuse_view`, :func:`fuse_scan`).

Camera conventions are those of :mod:`mmext.mvs.geometry` (pixel centres
at integer coordinates, world-to-camera extrinsics, depth = camera ``z``).
"""
import warnings
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .geometry import (backproject_depth, pixel_grid, project_points,
                       unproject_pixels)

__all__ = [
    'ViewPrediction', 'check_geometric_consistency', 'fuse_scan',
    'fuse_view', 'sample_depth'
]

_INTERPOLATIONS = ('bilinear', 'nearest')


@dataclass
class ViewPrediction:
    """The prediction of one view, with its image and camera.

    Args:
        depth (np.ndarray): [H, W] depth map (camera ``z``; 0 where none).
        confidence (np.ndarray): [H, W] confidence in [0, 1].
        image (np.ndarray): [H, W, 3] uint8 RGB reference image.
        intrinsic (np.ndarray): [3, 3] intrinsics at the depth map's
            resolution.
        extrinsic (np.ndarray): [4, 4] world-to-camera extrinsics.
    """

    depth: np.ndarray
    confidence: np.ndarray
    image: np.ndarray
    intrinsic: np.ndarray
    extrinsic: np.ndarray

    def __post_init__(self) -> None:
        self.depth = np.asarray(self.depth, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.image = np.asarray(self.image)
        self.intrinsic = np.asarray(self.intrinsic, dtype=np.float64)
        self.extrinsic = np.asarray(self.extrinsic, dtype=np.float64)
        if self.depth.ndim != 2:
            raise ValueError('ViewPrediction.depth: expected [H, W], got '
                             f'shape {self.depth.shape}')
        size = self.depth.shape
        checks = (('confidence', self.confidence.shape, size),
                  ('image', self.image.shape, size + (3, )),
                  ('intrinsic', self.intrinsic.shape, (3, 3)),
                  ('extrinsic', self.extrinsic.shape, (4, 4)))
        for name, shape, expected in checks:
            if shape != expected:
                raise ValueError(f'ViewPrediction.{name}: expected shape '
                                 f'{expected} (the depth map is {size}), '
                                 f'got {shape}')
        if self.image.dtype != np.uint8:
            raise ValueError('ViewPrediction.image: expected uint8 RGB, got '
                             f'{self.image.dtype}')


def sample_depth(depth: np.ndarray,
                 uv: np.ndarray,
                 interpolation: str = 'bilinear'
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Sample a depth map at continuous pixel coordinates.

    ``'bilinear'`` blends the four pixels around ``(u, v)`` (as the
    reference's ``cv2.remap``), but never with a missing depth: a sample
    is invalid when any pixel with a non-zero weight lies outside the map
    or has depth ``<= 0``, instead of being pulled towards 0 at borders and
    holes. ``'nearest'`` takes the pixel whose centre is nearest.

    Args:
        depth (np.ndarray): [H, W] depth map.
        uv (np.ndarray): [..., 2] pixel coordinates (NaN allowed).
        interpolation (str): ``'bilinear'`` or ``'nearest'``.

    Returns:
        tuple[np.ndarray, np.ndarray]: float64 [...] sampled depths (0
        where invalid) and bool [...] validity.
    """
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f'interpolation: choose from {_INTERPOLATIONS}, '
                         f'got {interpolation!r}')
    depth = np.asarray(depth, dtype=np.float64)
    height, width = depth.shape
    u, v = uv[..., 0], uv[..., 1]
    if interpolation == 'nearest':
        with np.errstate(invalid='ignore'):
            inside = (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & \
                (v < height - 0.5)
        col = np.floor(np.where(inside, u, 0) + 0.5).astype(np.int64)
        row = np.floor(np.where(inside, v, 0) + 0.5).astype(np.int64)
        values = np.where(inside, depth[row, col], 0.0)
        valid = values > 0
        return np.where(valid, values, 0.0), valid
    with np.errstate(invalid='ignore'):
        inside = (u >= 0) & (u <= width - 1) & (v >= 0) & (v <= height - 1)
    u, v = np.where(inside, u, 0.0), np.where(inside, v, 0.0)
    col0 = np.clip(np.floor(u), 0, max(width - 2, 0)).astype(np.int64)
    row0 = np.clip(np.floor(v), 0, max(height - 2, 0)).astype(np.int64)
    col1 = np.minimum(col0 + 1, width - 1)
    row1 = np.minimum(row0 + 1, height - 1)
    fu, fv = u - col0, v - row0
    values = np.zeros(u.shape)
    missing = ~inside
    for rows, cols, weight in ((row0, col0, (1 - fu) * (1 - fv)),
                               (row0, col1, fu * (1 - fv)),
                               (row1, col0, (1 - fu) * fv),
                               (row1, col1, fu * fv)):
        corner = depth[rows, cols]
        missing |= (weight > 0) & ~(corner > 0)
        values += weight * corner
    valid = ~missing & (values > 0)
    return np.where(valid, values, 0.0), valid


def _check_thresholds(max_reprojection_error: float,
                      max_relative_depth_error: float) -> None:
    for name, value in (('max_reprojection_error', max_reprojection_error),
                        ('max_relative_depth_error',
                         max_relative_depth_error)):
        if not value > 0:
            raise ValueError(f'{name}: must be > 0, got {value}')


def _round_trip(ref_world: np.ndarray, ref_K: np.ndarray, ref_E: np.ndarray,
                src_depth: np.ndarray, src_K: np.ndarray, src_E: np.ndarray,
                interpolation: str
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ref points -> source pixel -> source depth -> back into the ref view.

    Returns the reference-view pixel [H, W, 2] and depth [H, W] of the
    round trip, and whether it was possible [H, W] (in front of the source
    camera, inside the source map, on a source pixel with depth).
    """
    src_uv, src_z = project_points(ref_world, src_K, src_E)
    sampled, valid = sample_depth(src_depth, src_uv, interpolation)
    valid &= src_z > 0
    src_world = unproject_pixels(src_uv, sampled, src_K, src_E)
    back_uv, back_z = project_points(src_world, ref_K, ref_E)
    valid &= back_z > 0
    return back_uv, back_z, valid


def _consistency(ref_depth: np.ndarray, ref_world: np.ndarray,
                 ref_K: np.ndarray, ref_E: np.ndarray, src_depth: np.ndarray,
                 src_K: np.ndarray, src_E: np.ndarray,
                 max_reprojection_error: float,
                 max_relative_depth_error: float,
                 interpolation: str) -> Tuple[np.ndarray, np.ndarray]:
    back_uv, back_z, valid = _round_trip(ref_world, ref_K, ref_E, src_depth,
                                         src_K, src_E, interpolation)
    ref_depth = ref_depth.astype(np.float64)
    grid = pixel_grid(*ref_depth.shape)
    with np.errstate(invalid='ignore', divide='ignore'):
        distance = np.linalg.norm(back_uv - grid, axis=-1)
        relative = np.abs(back_z - ref_depth) / ref_depth
        mask = valid & (ref_depth > 0) & \
            (distance < max_reprojection_error) & \
            (relative < max_relative_depth_error)
    return mask, np.where(mask, back_z, 0.0)


def check_geometric_consistency(
        ref_depth: np.ndarray,
        ref_K: np.ndarray,
        ref_E: np.ndarray,
        src_depth: np.ndarray,
        src_K: np.ndarray,
        src_E: np.ndarray,
        *,
        max_reprojection_error: float = 1.0,
        max_relative_depth_error: float = 0.01,
        interpolation: str = 'bilinear') -> Tuple[np.ndarray, np.ndarray]:
    """Which reference pixels a source depth map agrees with.

    Each reference pixel ``p`` with depth ``d`` is back-projected to the
    world, projected into the source view (pixel ``q``), the source depth
    is sampled at ``q`` (:func:`sample_depth`), the source point is
    back-projected and projected into the reference view (pixel ``p'``,
    depth ``d'``). The source agrees at ``p`` when ``|p' - p| <
    max_reprojection_error`` (pixels) and ``|d' - d| / d <
    max_relative_depth_error``; the round trip must be possible (``q`` in
    front of the source camera and inside its map, with depth there, and
    ``d, d' > 0``).

    Args:
        ref_depth (np.ndarray): [H, W] reference depth map.
        ref_K (np.ndarray): [3, 3] reference intrinsics.
        ref_E (np.ndarray): [4, 4] reference world-to-camera extrinsics.
        src_depth (np.ndarray): [H', W'] source depth map.
        src_K (np.ndarray): [3, 3] source intrinsics.
        src_E (np.ndarray): [4, 4] source world-to-camera extrinsics.
        max_reprojection_error (float): Pixels. Defaults to 1.0.
        max_relative_depth_error (float): Defaults to 0.01.
        interpolation (str): How the source depth is sampled:
            ``'bilinear'`` (default) or ``'nearest'``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``mask`` bool [H, W], and
        ``reprojected_depth`` float64 [H, W], the round-trip depth ``d'``
        where the mask holds and 0 elsewhere.
    """
    _check_thresholds(max_reprojection_error, max_relative_depth_error)
    ref_depth = np.asarray(ref_depth)
    ref_world = backproject_depth(ref_depth, ref_K, ref_E)
    return _consistency(ref_depth, ref_world, ref_K, ref_E,
                        np.asarray(src_depth), src_K, src_E,
                        max_reprojection_error, max_relative_depth_error,
                        interpolation)


def fuse_view(ref: ViewPrediction,
              sources: Sequence[ViewPrediction],
              *,
              confidence_threshold: float = 0.8,
              num_consistent: int = 3,
              max_reprojection_error: float = 1.0,
              max_relative_depth_error: float = 0.01,
              interpolation: str = 'bilinear'
              ) -> Tuple[np.ndarray, np.ndarray]:
    """The fused depth of one reference view and the pixels it keeps.

    Args:
        ref (ViewPrediction): The reference view.
        sources (Sequence[ViewPrediction]): Its source views.
        confidence_threshold (float): Photometric mask: ``confidence >
            confidence_threshold``.
        num_consistent (int): Geometric mask: at least this many sources
            agree (:func:`check_geometric_consistency`).
        max_reprojection_error (float): Pixels.
        max_relative_depth_error (float): Relative depth difference.
        interpolation (str): Sampling of the source depths.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``mask`` bool [H, W] (both masks and
        a positive depth) and ``depth`` float64 [H, W], the mean of the
        reference depth and the agreeing round-trip depths (every pixel;
        use it where the mask holds).
    """
    _check_thresholds(max_reprojection_error, max_relative_depth_error)
    if num_consistent < 0:
        raise ValueError(f'num_consistent: must be >= 0, got '
                         f'{num_consistent}')
    ref_world = backproject_depth(ref.depth, ref.intrinsic, ref.extrinsic)
    agreeing = np.zeros(ref.depth.shape, np.int64)
    depth_sum = ref.depth.astype(np.float64)
    for src in sources:
        mask, depth = _consistency(ref.depth, ref_world, ref.intrinsic,
                                   ref.extrinsic, src.depth, src.intrinsic,
                                   src.extrinsic, max_reprojection_error,
                                   max_relative_depth_error, interpolation)
        agreeing += mask
        depth_sum += depth
    keep = (ref.confidence > confidence_threshold) & \
        (agreeing >= num_consistent) & (ref.depth > 0)
    return keep, depth_sum / (agreeing + 1)


def _view_id(entry) -> int:
    """A source of ``pairs``: an id, or an ``(id, score)`` pair."""
    return int(entry[0]) if isinstance(entry, (tuple, list)) else int(entry)


def fuse_scan(views: Dict[int, ViewPrediction],
              pairs: Dict[int, List[int]],
              *,
              confidence_threshold: float = 0.8,
              num_consistent: int = 3,
              max_reprojection_error: float = 1.0,
              max_relative_depth_error: float = 0.01,
              max_sources: int = 10,
              interpolation: str = 'bilinear',
              return_views: bool = False) -> Tuple[np.ndarray, ...]:
    """Fuse the depth maps of one scan into a coloured point cloud.

    Every view of ``views`` is a reference in turn (:func:`fuse_view`); its
    sources are the first ``max_sources`` views of ``pairs[view]`` that
    have a prediction (DTU's ``pair.txt`` lists ten per view, best first).
    Kept pixels are back-projected with their fused depth and coloured from
    the reference image.

    Args:
        views (dict[int, ViewPrediction]): Predictions by view id.
        pairs (dict[int, list[int]]): Source view ids by reference id,
            best first; ``(id, score)`` entries (``DTUMVSDataset.pairs``)
            are accepted too.
        confidence_threshold (float): See :func:`fuse_view`.
            Defaults to 0.8 (CVP-MVSNet's pseudo-label fusion).
        num_consistent (int): See :func:`fuse_view`. Defaults to 3.
        max_reprojection_error (float): Pixels. Defaults to 1.0.
        max_relative_depth_error (float): Defaults to 0.01.
        max_sources (int): Sources per reference view. Defaults to 10.
        interpolation (str): Sampling of the source depths.
        return_views (bool): Also return the reference view of every point.

    Returns:
        tuple[np.ndarray, ...]: ``points`` float32 [P, 3] in world
        coordinates and ``colors`` uint8 [P, 3] RGB, reference views in
        ascending id order, pixels in row-major order; with
        ``return_views`` also ``views`` int64 [P].

    Raises:
        KeyError: If a view has no entry in ``pairs``.
        ValueError: If ``views`` is empty or an argument is out of range.
    """
    if not views:
        raise ValueError('views: no view predictions to fuse')
    if max_sources < 0:
        raise ValueError(f'max_sources: must be >= 0, got {max_sources}')
    points, colors, view_ids, short = [], [], [], []
    for ref_id in sorted(views):
        if ref_id not in pairs:
            raise KeyError(f'pairs: no source list for view {ref_id}; pass '
                           'the dataset\'s pairs (pair.txt) for every view')
        sources = [s for s in map(_view_id, pairs[ref_id])
                   if s != ref_id and s in views][:max_sources]
        if len(sources) < num_consistent:
            short.append(ref_id)
        ref = views[ref_id]
        keep, depth = fuse_view(
            ref, [views[s] for s in sources],
            confidence_threshold=confidence_threshold,
            num_consistent=num_consistent,
            max_reprojection_error=max_reprojection_error,
            max_relative_depth_error=max_relative_depth_error,
            interpolation=interpolation)
        grid = pixel_grid(*ref.depth.shape)
        points.append(
            unproject_pixels(grid[keep], depth[keep], ref.intrinsic,
                             ref.extrinsic).astype(np.float32))
        colors.append(ref.image[keep].astype(np.uint8))
        view_ids.append(np.full(int(keep.sum()), ref_id, np.int64))
    if short:
        warnings.warn(
            f'fuse_scan: views {short} have fewer than num_consistent='
            f'{num_consistent} source views with a prediction, so they '
            'contribute no points')
    fused = (np.concatenate(points), np.concatenate(colors))
    if return_views:
        return fused + (np.concatenate(view_ids), )
    return fused
