"""Pinhole camera geometry of multi-view stereo, in numpy.

Conventions (DTU's and MVSNet's camera files, OpenCV's):

- ``K`` [3, 3] maps camera coordinates to pixel coordinates, and pixel
  ``(u, v)`` (``u`` the column, ``v`` the row) has its centre at the
  integer coordinates: the pixel in row ``i`` and column ``j`` of a depth
  map is the point ``(u, v) = (j, i)``.
- ``E`` [4, 4] is the world-to-camera transform: ``X_cam = E @ [X_world;
  1]``.
- Depth is the camera-frame ``z`` coordinate (not the distance along the
  ray).

Every function computes in float64; those of points and pixels broadcast
over leading dimensions. Only numpy is imported (the Shapes-MVS generator
uses this module without torch).
"""
from typing import Sequence, Tuple

import numpy as np

__all__ = [
    'backproject_depth', 'camera_centre', 'look_at', 'pixel_grid',
    'pixel_rays', 'project_points', 'unproject_pixels'
]


def _matrix(matrix: np.ndarray, shape: Tuple[int, int],
            name: str) -> np.ndarray:
    array = np.asarray(matrix, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f'{name}: expected a {shape[0]}x{shape[1]} matrix, '
                         f'got shape {array.shape}')
    return array


def look_at(centre: np.ndarray,
            target: Sequence[float] = (0.0, 0.0, 0.0),
            up: Sequence[float] = (0.0, 0.0, 1.0),
            roll: float = 0.0) -> np.ndarray:
    """World-to-camera extrinsics of a camera at ``centre`` looking at
    ``target``, with the world's ``up`` pointing up in the image.

    The camera's axes (OpenCV's: ``x`` right, ``y`` down, ``z`` forward)
    are ``z = (target - centre) / |target - centre|``, ``x = z x up``
    (normalised) and ``y = z x x``; a non-zero ``roll`` then turns ``x``
    and ``y`` by ``roll`` degrees about ``z``.

    Args:
        centre (np.ndarray): [3] camera centre in world coordinates.
        target (Sequence[float]): [3] the point looked at. Defaults to the
            origin.
        up (Sequence[float]): [3] the world's up direction; must not be
            parallel to the viewing direction. Defaults to ``+z``.
        roll (float): Degrees about the optical axis. Defaults to 0.

    Returns:
        np.ndarray: float64 [4, 4] ``E`` with ``X_cam = E @ [X_world; 1]``.
    """
    centre = np.asarray(centre, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - centre
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    if roll:
        c, s = np.cos(np.deg2rad(roll)), np.sin(np.deg2rad(roll))
        right, down = c * right + s * down, -s * right + c * down
    rotation = np.stack([right, down, forward])  # rows: the camera axes
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = rotation
    extrinsic[:3, 3] = -rotation @ centre
    return extrinsic


def camera_centre(E: np.ndarray) -> np.ndarray:
    """The centre ``-R^T t`` of a camera in world coordinates.

    Args:
        E (np.ndarray): [4, 4] world-to-camera extrinsics ``[R t; 0 1]``.

    Returns:
        np.ndarray: float64 [3].
    """
    E = _matrix(E, (4, 4), 'E')
    rotation, translation = E[:3, :3], E[:3, 3]
    return -rotation.T @ translation


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel-centre coordinates of an image.

    Args:
        height (int): Rows.
        width (int): Columns.

    Returns:
        np.ndarray: float64 [H, W, 2] with ``grid[i, j] = (j, i)``.
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([u, v], axis=-1)


def unproject_pixels(uv: np.ndarray, depth: np.ndarray, K: np.ndarray,
                     E: np.ndarray) -> np.ndarray:
    """World points at given pixels and depths of a camera.

    ``X_cam = depth * K^-1 [u, v, 1]^T``, ``X_world = E^-1 [X_cam; 1]``.

    Args:
        uv (np.ndarray): [..., 2] pixel coordinates ``(u, v)``.
        depth (np.ndarray): [...] camera-frame depths (``z``).
        K (np.ndarray): [3, 3] intrinsics.
        E (np.ndarray): [4, 4] world-to-camera extrinsics.

    Returns:
        np.ndarray: float64 [..., 3] world points. A depth of 0 gives the
        camera centre.
    """
    K = _matrix(K, (3, 3), 'K')
    E = _matrix(E, (4, 4), 'E')
    uv = np.asarray(uv, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    homogeneous = np.concatenate([uv, np.ones_like(uv[..., :1])], axis=-1)
    rays = homogeneous @ np.linalg.inv(K).T  # [..., 3], z = 1
    camera = rays * depth[..., None]
    camera_to_world = np.linalg.inv(E)
    return camera @ camera_to_world[:3, :3].T + camera_to_world[:3, 3]


def backproject_depth(depth: np.ndarray, K: np.ndarray,
                      E: np.ndarray) -> np.ndarray:
    """World point of every pixel of a depth map.

    Args:
        depth (np.ndarray): [H, W] depth map (camera ``z``).
        K (np.ndarray): [3, 3] intrinsics of the map's resolution.
        E (np.ndarray): [4, 4] world-to-camera extrinsics.

    Returns:
        np.ndarray: float64 [H, W, 3] world points (the camera centre
        where the depth is 0).

    Raises:
        ValueError: If ``depth`` is not 2-D or a matrix has a wrong shape.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f'depth: expected an [H, W] map, got shape '
                         f'{depth.shape}')
    return unproject_pixels(pixel_grid(*depth.shape), depth, K, E)


def project_points(points_world: np.ndarray, K: np.ndarray,
                   E: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Project world points into a camera.

    Args:
        points_world (np.ndarray): [..., 3] world points.
        K (np.ndarray): [3, 3] intrinsics.
        E (np.ndarray): [4, 4] world-to-camera extrinsics.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``uv`` float64 [..., 2], the pixel
        coordinates (NaN for points with ``z <= 0``, which are not in
        front of the camera), and ``z`` float64 [...], their camera-frame
        depths.
    """
    K = _matrix(K, (3, 3), 'K')
    E = _matrix(E, (4, 4), 'E')
    points = np.asarray(points_world, dtype=np.float64)
    camera = points @ E[:3, :3].T + E[:3, 3]
    z = camera[..., 2]
    pixels = camera @ K.T
    with np.errstate(divide='ignore', invalid='ignore'):
        uv = pixels[..., :2] / pixels[..., 2:3]
    uv[z <= 0] = np.nan
    return uv, z


def pixel_rays(intrinsic: np.ndarray, extrinsic: np.ndarray,
               uv: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """World rays through pixel coordinates ``uv`` ``[N, 2]``.

    Returns:
        ``(origin [3], directions [N, 3])``; a direction is scaled so that
        its camera-frame ``z`` is 1, hence a hit at ``origin + s * d`` has
        depth ``s``.
    """
    inverse = np.linalg.inv(intrinsic)
    # R^T K^-1 [u, v, 1]^T for every row: camera z is 1 before rotation.
    to_world = extrinsic[:3, :3].T @ inverse
    directions = (uv[:, :1] * to_world[:, 0] + uv[:, 1:] * to_world[:, 1] +
                  to_world[:, 2])
    return camera_centre(extrinsic), directions
