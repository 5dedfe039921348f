"""Ground-truth surface points: the voxel thinning of Shapes-MVS.

DTU's reference points (``Points/stl/stl{NNN}_total.ply``) are a
structured-light scan of the visible surface. Shapes-MVS makes the same
kind of sample from its exact geometry: the centre-ray hits of every
high-resolution test view (points on the surface that some view sees),
thinned to one point per ``spacing``-sized voxel, and written with
:func:`mmext.mvs.ply.write_point_cloud`.

This is another rule than the thinning of DTU's evaluation
(:func:`mmext.evaluation.point_cloud.thin_points`: no two kept points
within a minimum spacing, visited in a seeded random order); the
generator's bytes (``GENERATOR_VERSION``) are defined by this one.
"""
import numpy as np


def thin_points(points: np.ndarray, spacing: float) -> np.ndarray:
    """Indices of a voxel thinning of ``points`` ``[N, 3]``.

    Keeps, in every occupied cube of side ``spacing`` (a fixed grid from
    the origin), the point that comes first in ``points``; so kept points
    are about ``spacing`` apart (two can be closer only across a voxel
    face) and the result depends only on the input order.

    Returns:
        Sorted int64 indices into ``points``.
    """
    if spacing <= 0:
        raise ValueError(f'spacing: must be positive, got {spacing}')
    if not len(points):
        return np.zeros(0, np.int64)
    cells = np.floor(points / spacing).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return np.sort(first)
