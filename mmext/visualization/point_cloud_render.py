"""Pictures of (fused, coloured) point clouds without a 3-D viewer: points
projected by a pinhole camera and splatted as small squares into a z-buffer,
in numpy.

Cameras follow :mod:`mmext.mvs.geometry` (DTU's ``cam.txt`` convention):
``K`` [3, 3] in pixels, ``E`` [4, 4] world-to-camera, the camera looking
along ``+z`` with ``x`` right and ``y`` down. :func:`orbit_camera` makes a
camera that looks at a cloud's centre from an oblique direction;
``tools/mvs/render_point_cloud.py`` is the command line.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from mmext.mvs.geometry import project_points

__all__ = [
    'render_point_cloud', 'orbit_camera', 'cloud_centre_and_radius',
    'side_by_side', 'save_rgb'
]

#: The world axes ``--up`` may name.
AXES = {
    'x': (1.0, 0.0, 0.0), 'y': (0.0, 1.0, 0.0), 'z': (0.0, 0.0, 1.0),
    '-x': (-1.0, 0.0, 0.0), '-y': (0.0, -1.0, 0.0), '-z': (0.0, 0.0, -1.0)
}


def _points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points: expected a [P, 3] array, got shape '
                         f'{points.shape}')
    return points


def cloud_centre_and_radius(points: np.ndarray,
                            quantile: float = 0.98
                            ) -> Tuple[np.ndarray, float]:
    """The centre of a cloud's bounding box and the radius that holds
    ``quantile`` of its points (a few stray points do not shrink the
    picture).

    Args:
        points (np.ndarray): [P, 3] with P >= 1; non-finite rows ignored.
        quantile (float): Fraction of the points inside the radius.

    Returns:
        tuple[np.ndarray, float]: ``centre`` [3] and ``radius`` (> 0).

    Raises:
        ValueError: If the cloud has no finite point.
    """
    points = _points(points)
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        raise ValueError('points: the cloud has no finite point')
    low = np.quantile(points, 1 - quantile, axis=0)
    high = np.quantile(points, quantile, axis=0)
    centre = (low + high) / 2
    distance = np.linalg.norm(points - centre, axis=1)
    radius = float(np.quantile(distance, quantile))
    return centre, max(radius, 1e-6)


def orbit_camera(centre: Sequence[float],
                 radius: float,
                 size: Tuple[int, int],
                 *,
                 up: Union[str, Sequence[float]] = 'z',
                 azimuth: float = -60.0,
                 elevation: float = 30.0,
                 fov: float = 40.0,
                 margin: float = 1.1) -> Tuple[np.ndarray, np.ndarray]:
    """A camera looking at ``centre`` from a direction given by azimuth
    and elevation about the world's ``up`` axis, far enough that a sphere
    of ``radius`` (times ``margin``) fills the narrower field of view.

    The horizontal reference direction ``a`` is the world ``x`` axis made
    perpendicular to ``up`` (``y`` when ``up`` is along ``x``), ``b = up x
    a``; the camera sits at ``centre + d (cos e (cos az a + sin az b) + sin
    e up)``. With ``up='z'`` (Shapes-MVS, whose cameras face the ``-y``
    side) an azimuth of -90 is the front; with ``up='-y'`` (DTU's world,
    whose cameras look along ``+z``) the same azimuth is the front too. The
    default, -60 and 30 degrees, looks at the front obliquely from above.

    Args:
        centre (Sequence[float]): [3] the point looked at.
        radius (float): Radius to fit in the picture (> 0).
        size (tuple[int, int]): ``(H, W)`` of the picture.
        up (str | Sequence[float]): ``'x'``, ``'-y'``, ... or a 3-vector;
            it points up in the picture.
        azimuth (float): Degrees about ``up``.
        elevation (float): Degrees above the plane perpendicular to ``up``
            (strictly between -90 and 90).
        fov (float): Field of view of the narrower image side, degrees.
        margin (float): Extra room around the sphere (>= 1 keeps it whole).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``K`` [3, 3] (principal point at the
        image centre) and ``E`` [4, 4] world-to-camera.

    Raises:
        ValueError: For an unknown or zero ``up``, ``|elevation| >= 90``,
            a ``fov`` outside (0, 180), a non-positive radius or size.
    """
    if isinstance(up, str):
        if up not in AXES:
            raise ValueError(f'up: {up!r} is not one of {sorted(AXES)} (or '
                             'pass a 3-vector)')
        up = AXES[up]
    up = np.asarray(up, dtype=np.float64)
    if up.shape != (3, ) or not np.linalg.norm(up) > 0:
        raise ValueError(f'up: expected a non-zero 3-vector, got {up}')
    up = up / np.linalg.norm(up)
    if not -90 < elevation < 90:
        raise ValueError(f'elevation: {elevation} must be strictly between '
                         '-90 and 90 degrees (the camera cannot look along '
                         'up)')
    if not 0 < fov < 180:
        raise ValueError(f'fov: {fov} must be in (0, 180) degrees')
    if not radius > 0:
        raise ValueError(f'radius: {radius} must be > 0')
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f'size: {size} must be two positive integers')

    reference = np.array([1.0, 0.0, 0.0])
    if abs(reference @ up) > 0.9:
        reference = np.array([0.0, 1.0, 0.0])
    a = reference - (reference @ up) * up
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    az, el = np.deg2rad(azimuth), np.deg2rad(elevation)
    direction = np.cos(el) * (np.cos(az) * a + np.sin(az) * b) + \
        np.sin(el) * up
    half = np.deg2rad(fov) / 2
    distance = margin * radius / np.sin(half)
    centre = np.asarray(centre, dtype=np.float64)
    position = centre + distance * direction

    forward = -direction
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = np.stack([right, down, forward])
    extrinsic[:3, 3] = -extrinsic[:3, :3] @ position
    focal = 0.5 * min(height, width) / np.tan(half)
    intrinsic = np.array([[focal, 0.0, (width - 1) / 2],
                          [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
    return intrinsic, extrinsic


def _depth_shading(z: np.ndarray) -> np.ndarray:
    """Grey colours for an uncoloured cloud: light near, dark far."""
    if not len(z):
        return np.zeros((0, 3), np.uint8)
    low, high = float(z.min()), float(z.max())
    t = (z - low) / (high - low) if high > low else np.zeros_like(z)
    grey = np.round(220 - 150 * t).astype(np.uint8)
    return np.repeat(grey[:, None], 3, axis=1)


def render_point_cloud(points: np.ndarray,
                       colors: Optional[np.ndarray],
                       intrinsic: np.ndarray,
                       extrinsic: np.ndarray,
                       size: Tuple[int, int],
                       *,
                       point_size: int = 2,
                       background: Sequence[int] = (255, 255, 255)
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Splat a point cloud into a picture with a z-buffer.

    Each point in front of the camera (``z > 0``) covers a ``point_size x
    point_size`` square of pixels: its own pixel ``round(uv)`` (pixel
    centres at integer coordinates) and, for an odd size, the pixels
    around it; an even size extends one more pixel right and down. Points
    are drawn nearest first and a pixel keeps the first point that reaches
    it, so at every pixel the nearest covering point wins, whatever the
    input order (equal depths: the earlier point).

    Args:
        points (np.ndarray): [P, 3] world points.
        colors (np.ndarray, optional): [P, 3] uint8 RGB; None shades the
            points by depth (light near, dark far).
        intrinsic (np.ndarray): [3, 3] ``K`` for a picture of ``size``.
        extrinsic (np.ndarray): [4, 4] world-to-camera ``E``.
        size (tuple[int, int]): ``(H, W)``.
        point_size (int): Side of each point's square, pixels (>= 1).
        background (Sequence[int]): RGB of empty pixels.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``image`` uint8 [H, W, 3] RGB and
        ``depth`` float64 [H, W], the camera ``z`` of the point shown (0
        where empty).

    Raises:
        ValueError: If ``points``/``colors`` do not match, or ``size`` or
            ``point_size`` is not positive.
    """
    points = _points(points)
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != points.shape:
            raise ValueError(f'colors: expected [P, 3] = {points.shape} '
                             f'(one RGB triple per point), got '
                             f'{colors.shape}')
        colors = np.clip(colors, 0, 255).astype(np.uint8)
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f'size: {size} must be two positive integers')
    if int(point_size) < 1:
        raise ValueError(f'point_size: {point_size} must be >= 1')
    point_size = int(point_size)

    uv, z = project_points(points, intrinsic, extrinsic)
    reach = point_size + 1  # squares of points this far out still show
    with np.errstate(invalid='ignore'):
        keep = ((z > 0) & (uv[:, 0] > -reach) & (uv[:, 0] < width + reach) &
                (uv[:, 1] > -reach) & (uv[:, 1] < height + reach))
    uv, z = uv[keep], z[keep]
    shade = colors[keep] if colors is not None else _depth_shading(z)
    order = np.argsort(z, kind='stable')  # nearest first
    uv, z, shade = uv[order], z[order], shade[order]

    corner = np.floor(uv + 0.5).astype(np.int64) - (point_size - 1) // 2
    dy, dx = np.meshgrid(np.arange(point_size), np.arange(point_size),
                         indexing='ij')
    # [P, s*s] pixel coordinates, point-major: nearest points first.
    rows = corner[:, 1:] + dy.reshape(1, -1)
    cols = corner[:, :1] + dx.reshape(1, -1)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    point_index = np.broadcast_to(np.arange(len(z))[:, None], rows.shape)
    flat = (rows * width + cols)[inside]
    point_index = point_index[inside]
    # np.unique returns each pixel's first occurrence: its nearest point.
    pixels, first = np.unique(flat, return_index=True)
    winners = point_index[first]

    image = np.empty((height * width, 3), np.uint8)
    image[:] = np.asarray(background, dtype=np.uint8)
    depth = np.zeros(height * width)
    image[pixels] = shade[winners]
    depth[pixels] = z[winners]
    return image.reshape(height, width, 3), depth.reshape(height, width)


def side_by_side(images: Sequence[np.ndarray], gap: int = 4,
                 fill: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """Pictures of one height next to each other, ``gap`` pixels apart.

    Args:
        images (Sequence[np.ndarray]): uint8 [H, W_i, 3].
        gap (int): Pixels between pictures.
        fill (Sequence[int]): RGB of the gaps.

    Returns:
        np.ndarray: uint8 [H, sum W_i + gap * (n - 1), 3].
    """
    heights = {image.shape[0] for image in images}
    if len(heights) != 1:
        raise ValueError(f'side_by_side: the pictures must have one height, '
                         f'got {sorted(heights)}')
    height = heights.pop()
    spacer = np.empty((height, gap, 3), np.uint8)
    spacer[:] = np.asarray(fill, dtype=np.uint8)
    parts = []
    for i, image in enumerate(images):
        if i:
            parts.append(spacer)
        parts.append(image)
    return np.concatenate(parts, axis=1)


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write a uint8 [H, W, 3] RGB picture (PNG, JPEG, ... by extension),
    atomically."""
    import cv2

    from mmext.utils.atomic import atomic_write

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, np.ascontiguousarray(image[..., ::-1])):
            raise OSError(f'{path}: OpenCV could not write the picture')

    atomic_write(path, write, suffix=osp.splitext(path)[1] or '.png')
