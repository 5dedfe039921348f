"""Surface reconstruction of a fused point cloud: oriented normals, screened
Poisson and density trimming.

The pseudo-labelling of the self-supervised CVP-MVSNet (Yang, Alvarez, Liu,
CVPR 2021, arXiv:2104.02972, Sec. 3.3; public repository
JiayuYANG/Self-supervised-CVP-MVSNet, ``self_training/``) meshes each
training scan's fused points with screened Poisson reconstruction
(Kazhdan and Hoppe, ACM ToG 2013) at octree depth 12 and removes the
vertices whose Poisson density falls below the 5 % quantile, which cuts the
surface Poisson invents far from any point. mmext runs the reconstruction
through pymeshlab (``pip install pymeshlab``), which ships the authors'
implementation; normals are estimated from the point neighbourhoods and
oriented towards the camera that saw each point.
"""
from typing import Optional, Tuple

import numpy as np

from mmext.utils.cpus import threads_per_process
from mmext.utils.optional import require_package

__all__ = [
    'oriented_normals', 'screened_poisson', 'trim_by_density',
    'trim_by_distance', 'keep_vertices'
]

PURPOSE = 'Screened Poisson surface reconstruction (pseudo depth)'


def _pymeshlab():
    return require_package('pymeshlab', PURPOSE)


def oriented_normals(points: np.ndarray, camera_centres: np.ndarray,
                     neighbours: int = 10) -> np.ndarray:
    """Unit normals of a point cloud, each facing the camera that saw it.

    Normals are fitted to the ``neighbours`` nearest points (pymeshlab's
    ``compute_normal_for_point_clouds``); a normal pointing away from its
    point's camera is flipped.

    Args:
        points (np.ndarray): ``[P, 3]``.
        camera_centres (np.ndarray): ``[P, 3]`` (or ``[3]``): the centre of
            the camera each point comes from.
        neighbours (int): Points per local plane fit.

    Returns:
        np.ndarray: float64 ``[P, 3]``.
    """
    pymeshlab = _pymeshlab()
    points = np.asarray(points, dtype=np.float64)
    meshes = pymeshlab.MeshSet()
    meshes.add_mesh(pymeshlab.Mesh(vertex_matrix=points))
    meshes.compute_normal_for_point_clouds(k=int(neighbours), smoothiter=0)
    normals = np.array(meshes.current_mesh().vertex_normal_matrix(),
                       dtype=np.float64)
    towards = np.broadcast_to(camera_centres, points.shape) - points
    flip = np.einsum('ij,ij->i', normals, towards) < 0
    normals[flip] *= -1
    return normals


def screened_poisson(points: np.ndarray, normals: np.ndarray,
                     depth: int = 12, samples_per_node: float = 1.5,
                     point_weight: float = 4.0, threads: Optional[int] = None
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Screened Poisson reconstruction of an oriented point cloud.

    Args:
        points (np.ndarray): ``[P, 3]``.
        normals (np.ndarray): ``[P, 3]``, oriented outwards.
        depth (int): Octree depth (the reference: 12).
        samples_per_node (float): Minimum points per octree node.
        point_weight (float): Interpolation weight of the points (the
            screening term; 4 is the authors' default).
        threads (int, optional): OpenMP threads of the reconstruction.
            None: this process's share of the CPUs it may use
            (:func:`mmext.utils.cpus.threads_per_process`), not the
            library's default of the machine's hardware concurrency, which
            oversubscribes the cores when several ranks reconstruct at once.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``vertices`` float64
        ``[N, 3]``, ``faces`` int64 ``[F, 3]`` and the Poisson ``density``
        of every vertex ``[N]`` (the sampling density the reconstruction
        estimated there: low far from the points).
    """
    pymeshlab = _pymeshlab()
    meshes = pymeshlab.MeshSet()
    meshes.add_mesh(pymeshlab.Mesh(
        vertex_matrix=np.asarray(points, dtype=np.float64),
        v_normals_matrix=np.asarray(normals, dtype=np.float64)))
    meshes.generate_surface_reconstruction_screened_poisson(
        depth=int(depth), samplespernode=float(samples_per_node),
        pointweight=float(point_weight), preclean=True,
        threads=int(threads or threads_per_process()))
    mesh = meshes.current_mesh()
    return (np.array(mesh.vertex_matrix(), dtype=np.float64),
            np.array(mesh.face_matrix(), dtype=np.int64),
            np.array(mesh.vertex_scalar_array(), dtype=np.float64))


def trim_by_density(vertices: np.ndarray, faces: np.ndarray,
                    density: np.ndarray,
                    quantile: float = 0.05) -> Tuple[np.ndarray, np.ndarray]:
    """Remove the vertices below the ``quantile`` of the density, and every
    face that uses one (Open3D's ``remove_vertices_by_mask``, which the
    reference calls).

    Args:
        vertices (np.ndarray): ``[N, 3]``.
        faces (np.ndarray): ``[F, 3]`` vertex indices.
        density (np.ndarray): ``[N]``.
        quantile (float): In [0, 1); 0 keeps everything.

    Returns:
        tuple[np.ndarray, np.ndarray]: The kept vertices and the faces
        re-indexed to them.
    """
    if not 0 <= quantile < 1:
        raise ValueError(f'trim_quantile: must lie in [0, 1), got '
                         f'{quantile!r}')
    if quantile == 0 or not len(vertices):
        return vertices, faces
    return keep_vertices(vertices, faces,
                         density >= np.quantile(density, quantile))


def trim_by_distance(vertices: np.ndarray, faces: np.ndarray,
                     points: np.ndarray,
                     max_distance: float) -> Tuple[np.ndarray, np.ndarray]:
    """Remove the vertices farther than ``max_distance`` from every point
    (scipy's KD-tree), and the faces that use one: the surface Poisson
    closes over parts no view observed (an mmext option; the reference
    trims by density alone).

    Args:
        vertices (np.ndarray): ``[N, 3]``.
        faces (np.ndarray): ``[F, 3]``.
        points (np.ndarray): ``[P, 3]``, the fused points.
        max_distance (float): In the points' unit (> 0).
    """
    from scipy.spatial import cKDTree
    if not max_distance > 0:
        raise ValueError(f'max_point_distance: must be > 0, got '
                         f'{max_distance!r}')
    if not len(vertices):
        return vertices, faces
    distance, _ = cKDTree(points).query(vertices,
                                        distance_upper_bound=max_distance)
    return keep_vertices(vertices, faces, np.isfinite(distance))


def keep_vertices(vertices: np.ndarray, faces: np.ndarray,
                  keep: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The vertices where ``keep`` holds and the faces among them,
    re-indexed."""
    index = np.full(len(vertices), -1, np.int64)
    index[keep] = np.arange(int(keep.sum()))
    kept_faces = index[faces]
    kept_faces = kept_faces[(kept_faces >= 0).all(axis=1)]
    return vertices[keep], kept_faces
