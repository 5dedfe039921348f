"""The camera rig of Shapes-MVS and the view selection of ``pair.txt``.

Conventions (DTU / MVSNet): the extrinsic maps world to camera
coordinates, ``x_cam = R x_world + t``; the camera looks along ``+z``,
``x`` right and ``y`` down; pixel ``(u, v)`` = (column, row) with integer
coordinates at pixel centres, so ``[u, v, 1]^T ~ K x_cam`` and the depth
of a pixel is ``z`` in the camera frame (not the ray length). The world is
z-up, the ground is ``z = 0`` and the scene centre is the origin. These
are the conventions of :mod:`mmext.mvs.geometry`, whose helpers (``look_at``,
``camera_centre``, ``project_points``, ``backproject_depth``) serve the
generator too.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from mmext.mvs.geometry import look_at

from .presets import ShapesMVSPreset

#: View selection: the score of a source view peaks when the angle between
#: its optical axis and the reference's is ``PAIR_ANGLE``, and falls off
#: with ``PAIR_SIGMAS`` (below, above) like MVSNet's piecewise Gaussian.
PAIR_ANGLE = 12.0
PAIR_SIGMAS = (4.0, 15.0)
#: Source views listed per reference view (DTU's pair.txt: 10).
PAIR_TOP = 10


def intrinsic_matrix(size: Tuple[int, int], horizontal_fov: float,
                     scale: float = 1.0) -> np.ndarray:
    """``K`` of an ``size = (H, W)`` image with the given horizontal field
    of view, then scaled by ``scale`` (``K[:2] *= scale``, the reference's
    convention for resized images; the image is ``scale`` times larger)."""
    height, width = size
    focal = 0.5 * width / np.tan(np.deg2rad(horizontal_fov) / 2)
    intrinsic = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2],
                          [0.0, 0.0, 1.0]])
    intrinsic[:2] *= scale
    return intrinsic


def camera_rig(preset: ShapesMVSPreset,
               rng: np.random.Generator) -> List[np.ndarray]:
    """The extrinsics of every view, ring by ring.

    Ring ``k`` at elevation ``e`` places its cameras at ``camera_distance``
    from the look-at point, evenly over ``azimuth_span`` centred on the
    ``-y`` side of the scene (odd rings shifted by half a step), each
    looking at the look-at point moved by up to ``camera_jitter[0]`` mm
    and rolled by up to ``camera_jitter[1]`` degrees (both from ``rng``).
    """
    target = np.array([0.0, 0.0, preset.look_at])
    offset, roll = preset.camera_jitter
    extrinsics = []
    for ring, (elevation, count) in enumerate(preset.rings):
        step = preset.azimuth_span / count
        start = -90.0 - preset.azimuth_span / 2 + step / 2
        if ring % 2:
            start += step / 2
        for k in range(count):
            azimuth = start + k * step
            a, e = np.deg2rad(azimuth), np.deg2rad(elevation)
            direction = np.array(
                [np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
            center = target + preset.camera_distance * direction
            aim = target + rng.uniform(-offset, offset, size=3)
            extrinsics.append(
                look_at(center, aim, roll=rng.uniform(-roll, roll)))
    return extrinsics


def optical_axis(extrinsic: np.ndarray) -> np.ndarray:
    """The viewing direction (camera ``+z``) in world coordinates."""
    return extrinsic[2, :3] / np.linalg.norm(extrinsic[2, :3])


def pair_score(angle: np.ndarray) -> np.ndarray:
    """Score of a source view whose optical axis is ``angle`` degrees from
    the reference's: 1 at :data:`PAIR_ANGLE`, Gaussian on either side."""
    sigma = np.where(angle <= PAIR_ANGLE, *PAIR_SIGMAS)
    return np.exp(-(angle - PAIR_ANGLE)**2 / (2 * sigma**2))


def select_pairs(extrinsics: Sequence[np.ndarray],
                 top: int = PAIR_TOP) -> Dict[int, List[Tuple[int, float]]]:
    """``pair.txt`` content: for each view, the other views by descending
    :func:`pair_score` of the angle between optical axes (ties by view id),
    at most ``top`` of them, scores rounded to 4 decimals."""
    axes = np.stack([optical_axis(e) for e in extrinsics])
    angles = np.rad2deg(np.arccos(np.clip(axes @ axes.T, -1.0, 1.0)))
    scores = pair_score(angles)
    pairs = {}
    for ref in range(len(extrinsics)):
        others = [v for v in range(len(extrinsics)) if v != ref]
        others.sort(key=lambda v: (-round(float(scores[ref, v]), 4), v))
        pairs[ref] = [(v, round(float(scores[ref, v]), 4))
                      for v in others[:top]]
    return pairs
