"""First hits of camera rays on a triangle mesh (Embree through trimesh).

Depth rendering by ray casting needs no display, OpenGL context or near
plane: the released pseudo-labelling of the self-supervised CVP-MVSNet
(Yang, Alvarez, Liu, CVPR 2021, arXiv:2104.02972, public repository
JiayuYANG/Self-supervised-CVP-MVSNet) renders with an OpenGL renderer
whose ``znear=0`` gives black maps; a ray has no such plane. Shapes-MVS
renders its scenes with the same caster.
"""
from typing import Tuple

import numpy as np

from .geometry import pixel_grid, pixel_rays

__all__ = ['MeshRayCaster']


class MeshRayCaster:
    """Casts rays into one mesh.

    Hit points are recomputed from the hit triangle's plane in float64
    (Embree works in float32), so depths agree with the geometry to about
    1e-9 of the scene's unit.

    Args:
        mesh (trimesh.Trimesh): The mesh; handed to Embree once.
    """

    def __init__(self, mesh) -> None:
        from trimesh.ray.ray_pyembree import RayMeshIntersector
        self.mesh = mesh
        self._intersector = RayMeshIntersector(mesh)
        self._normals = np.asarray(mesh.face_normals, dtype=np.float64)
        self._anchors = np.asarray(mesh.triangles[:, 0], dtype=np.float64)

    def cast(self, origin: np.ndarray,
             directions: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """First hits of rays ``origin + s * directions``.

        Args:
            origin (np.ndarray): ``[3]``, shared by every ray.
            directions (np.ndarray): ``[N, 3]``.

        Returns:
            tuple[np.ndarray, np.ndarray]: The hit face ``[N]`` (-1: miss)
            and the ray parameter ``s`` ``[N]`` (0 for misses).
        """
        origins = np.broadcast_to(origin, directions.shape)
        faces = self._intersector.intersects_first(origins, directions)
        hit = faces >= 0
        normal = self._normals[faces[hit]]
        offset = np.einsum('ij,ij->i', self._anchors[faces[hit]] - origin,
                           normal)
        param = np.zeros(len(directions))
        param[hit] = offset / np.einsum('ij,ij->i', directions[hit], normal)
        return faces, param

    def depth_map(self, intrinsic: np.ndarray, extrinsic: np.ndarray,
                  size: Tuple[int, int]) -> np.ndarray:
        """Depth (camera ``z``) of the first hit through every pixel centre.

        Args:
            intrinsic (np.ndarray): ``[3, 3]`` K of the ``size`` image.
            extrinsic (np.ndarray): ``[4, 4]`` world-to-camera.
            size (tuple[int, int]): ``(H, W)``.

        Returns:
            np.ndarray: float32 ``[H, W]``, 0 where the ray misses (or hits
            behind the camera).
        """
        height, width = size
        centres = pixel_grid(height, width).reshape(-1, 2)
        origin, directions = pixel_rays(intrinsic, extrinsic, centres)
        faces, depth = self.cast(origin, directions)
        depth = np.where((faces >= 0) & (depth > 0), depth, 0.0)
        return depth.reshape(height, width).astype(np.float32)
