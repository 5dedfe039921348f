"""Point clouds as PLY files (the format of DTU's reconstructions and
ground truth), through ``plyfile``.

Written files are binary little-endian with one ``vertex`` element:
float32 ``x y z`` and, with colours, uchar ``red green blue``, the layout
DTU's evaluation reads (``{method}{scan:03d}_l3.ply``) and the one of
DTU's ground truth (``stl{scan:03d}_total.ply``, which the Shapes-MVS
generator writes with this module). Needs numpy and plyfile, not torch.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
from plyfile import PlyData, PlyElement

from mmext.utils.atomic import atomic_write

__all__ = ['read_point_cloud', 'write_point_cloud']


def write_point_cloud(path: str,
                      points: np.ndarray,
                      colors: Optional[np.ndarray] = None,
                      *,
                      overwrite: bool = False,
                      comments: Sequence[str] = ()) -> None:
    """Write a (coloured) point cloud as a binary PLY, atomically.

    The file appears complete or not at all (:func:`mmext.utils.atomic.
    atomic_write`); an existing file is replaced only with
    ``overwrite=True``.

    Args:
        path (str): The ``.ply`` file; missing folders are created.
        points (np.ndarray): [P, 3] points, stored as float32.
        colors (np.ndarray, optional): [P, 3] uint8 RGB.
        overwrite (bool): Replace an existing file. Defaults to False.
        comments (Sequence[str]): ``comment`` lines of the header (e.g.
            what wrote the file). Defaults to none.

    Raises:
        FileExistsError: If ``path`` exists and ``overwrite`` is False.
        ValueError: If ``points`` is not [P, 3] or ``colors`` not a uint8
            [P, 3] array.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points: expected a [P, 3] array, got shape '
                         f'{points.shape}')
    fields = [('x', 'f4'), ('y', 'f4'), ('z', 'f4')]
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != points.shape or colors.dtype != np.uint8:
            raise ValueError(
                f'colors: expected a uint8 array of shape {points.shape} '
                f'(one RGB triple per point), got {colors.dtype} '
                f'{colors.shape}')
        fields += [('red', 'u1'), ('green', 'u1'), ('blue', 'u1')]
    if osp.exists(path) and not overwrite:
        raise FileExistsError(
            f'{path} exists; pass overwrite=True (--overwrite in the tools) '
            'to replace it')
    vertex = np.empty(len(points), dtype=fields)
    for i, name in enumerate('xyz'):
        vertex[name] = points[:, i]
    if colors is not None:
        for i, name in enumerate(('red', 'green', 'blue')):
            vertex[name] = colors[:, i]
    ply = PlyData([PlyElement.describe(vertex, 'vertex')],
                  text=False, byte_order='<', comments=list(comments))
    atomic_write(path, ply.write, suffix='.ply')


def read_point_cloud(path: str
                     ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Read the vertices of a PLY file (binary or ASCII).

    Args:
        path (str): The ``.ply`` file.

    Returns:
        tuple: ``points`` [P, 3] in the file's float type (float32 for
        files written by :func:`write_point_cloud`) and ``colors`` uint8
        [P, 3] RGB, or None when the vertices have no ``red green blue``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file has no ``vertex`` element with ``x y z``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such PLY file')
    ply = PlyData.read(path)
    names = [element.name for element in ply.elements]
    if 'vertex' not in names:
        raise ValueError(f'{path}: no vertex element (elements: {names})')
    vertex = ply['vertex'].data
    fields = vertex.dtype.names or ()
    if not all(axis in fields for axis in 'xyz'):
        raise ValueError(f'{path}: the vertices have no x y z '
                         f'(properties: {list(fields)})')
    points = np.stack([vertex['x'], vertex['y'], vertex['z']], axis=1)
    colors = None
    if all(c in fields for c in ('red', 'green', 'blue')):
        colors = np.stack([vertex['red'], vertex['green'], vertex['blue']],
                          axis=1).astype(np.uint8)
    return points, colors
