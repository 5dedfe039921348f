"""A synthetic multi-view scene with exact depth maps, for tests of depth
fusion and of anything else that needs consistent MVS views.

Five cameras on a ring, 500 mm from the origin and 60 degrees up, look at
the origin (:func:`mmext.mvs.geometry.look_at`, z up), where a tilted plane
``NORMAL . X = 0`` lies. Each camera's depth map is computed in closed form
(the ray of pixel ``(u, v)`` is ``C + t R^T K^-1 [u, v, 1]``, and ``t`` is
the camera-frame depth), not with the projection helpers of
:mod:`mmext.mvs.geometry`, so the tests of those helpers can fail. Each
view's image encodes the pixel: ``(u, v, view id)`` as RGB. Cameras follow
DTU's conventions (pixel centres at integer coordinates, world-to-camera
extrinsics).
"""
from typing import Dict

import numpy as np

from mmext.mvs.geometry import look_at

__all__ = [
    'HEIGHT', 'WIDTH', 'NORMAL', 'look_at', 'intrinsic', 'plane_depth',
    'pixel_image', 'make_scene', 'scene_pairs'
]

HEIGHT, WIDTH = 36, 48
NORMAL = np.array([0.1, -0.05, 1.0]) / np.linalg.norm([0.1, -0.05, 1.0])


def intrinsic(focal: float = 55.0) -> np.ndarray:
    """[3, 3] intrinsics of the scene's image size (non-square pixels, the
    principal point off the centre)."""
    return np.array([[focal, 0.0, (WIDTH - 1) / 2],
                     [0.0, focal * 1.02, (HEIGHT - 1) / 2 + 0.3],
                     [0.0, 0.0, 1.0]])


def plane_depth(K: np.ndarray, E: np.ndarray,
                normal: np.ndarray = NORMAL) -> np.ndarray:
    """Exact [H, W] depth of the plane ``normal . X = 0``."""
    rotation, translation = E[:3, :3], E[:3, 3]
    centre = -rotation.T @ translation
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH].astype(float)
    pixels = np.stack([u, v, np.ones_like(u)], -1)
    rays = pixels @ np.linalg.inv(K).T @ rotation  # R^T K^-1 p, per pixel
    return -(normal @ centre) / (rays @ normal)


def pixel_image(view: int) -> np.ndarray:
    """[H, W, 3] uint8 with ``(u, v, view)`` at pixel ``(u, v)``."""
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([u, v, np.full_like(u, view)], -1).astype(np.uint8)


def make_scene(num_views: int = 5) -> Dict[int, dict]:
    """``{view: dict(depth, image, intrinsic, extrinsic)}``, views 25
    degrees apart in azimuth, each with a slightly different focal
    length."""
    scene = {}
    for view in range(num_views):
        azimuth = np.deg2rad(25.0 * view)
        elevation = np.deg2rad(60.0)
        centre = 500.0 * np.array([
            np.cos(elevation) * np.cos(azimuth),
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation)
        ])
        K, E = intrinsic(55.0 + view), look_at(centre)
        scene[view] = dict(depth=plane_depth(K, E), image=pixel_image(view),
                           intrinsic=K, extrinsic=E)
    return scene


def scene_pairs(num_views: int = 5) -> Dict[int, list]:
    """Every other view as a source, nearest azimuth first."""
    return {
        ref: sorted((v for v in range(num_views) if v != ref),
                    key=lambda v: (abs(v - ref), v))
        for ref in range(num_views)
    }
