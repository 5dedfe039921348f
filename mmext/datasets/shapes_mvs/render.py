"""Ray-cast rendering of Shapes-MVS scenes (Embree through trimesh).

For every pixel the first surface hit along the ray through its centre
gives the depth (``z`` in the camera frame, 0 where the ray misses:
invalid), and ``s x s`` rays through the pixel's sub-sample centres give
the colour, their average (a miss is black). The colour of a surface point
``x`` under light ``l`` is Lambertian::

    rgb = 255 * albedo(x) * (ambient_l + intensity_l * max(0, n(x) . d_l))

with the directional light ``d_l`` (unit vector towards the light) of
:data:`LIGHTS`; it does not depend on the view, so all views of a point
agree under one light. There are no shadows or inter-reflections.

Rays are cast by :class:`mmext.mvs.raycast.MeshRayCaster` (hit points
recomputed in float64, so depth maps and back-projections agree with the
geometry to about 1e-9 mm).
"""
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
from mmext.mvs.geometry import pixel_rays
from mmext.mvs.raycast import MeshRayCaster

from .scene import Scene


@dataclass(frozen=True)
class Light:
    """A directional light plus ambient term.

    Attributes:
        azimuth: Direction towards the light, degrees in the ground plane
            (-90: the cameras' side).
        elevation: Degrees above the ground.
        intensity: Strength of the directional term.
        ambient: Strength of the ambient term.
    """

    azimuth: float
    elevation: float
    intensity: float
    ambient: float

    @property
    def direction(self) -> np.ndarray:
        """Unit vector towards the light (world)."""
        a, e = np.deg2rad(self.azimuth), np.deg2rad(self.elevation)
        return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a),
                         np.sin(e)])


#: DTU's seven lighting conditions, fixed for every scan (index = the
#: ``{light}`` of ``rect_{view}_{light}_r5000.png``). Light 3, the test
#: light, shines from above the cameras.
LIGHTS: Tuple[Light, ...] = (
    Light(-150.0, 40.0, 0.60, 0.30),
    Light(-120.0, 55.0, 0.70, 0.25),
    Light(-60.0, 35.0, 0.65, 0.25),
    Light(-90.0, 60.0, 0.75, 0.30),
    Light(-30.0, 50.0, 0.70, 0.20),
    Light(150.0, 70.0, 0.55, 0.35),
    Light(30.0, 45.0, 0.60, 0.20),
)
TEST_LIGHT = 3


@dataclass
class ViewRender:
    """What one view sees.

    Attributes:
        depth: ``[H, W]`` float32 depth (camera ``z``), 0 where invalid.
        images: ``[L, H, W, 3]`` uint8 RGB, one per requested light.
        points: ``[N, 3]`` world hit points of the valid pixels'
            centre rays, row-major (``depth > 0`` order).
    """

    depth: np.ndarray
    images: np.ndarray
    points: np.ndarray


class SceneRenderer:
    """Casts rays into one :class:`~.scene.Scene`.

    Args:
        scene: The scene; its mesh is handed to Embree once.
    """

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self._caster = MeshRayCaster(scene.mesh)
        #: :meth:`mmext.mvs.raycast.MeshRayCaster.cast` of the scene mesh.
        self.cast = self._caster.cast

    def radiance(self, points: np.ndarray, faces: np.ndarray,
                 lights: Sequence[Light]) -> np.ndarray:
        """Colours ``[L, N, 3]`` in [0, 1] of surface points hit on
        ``faces`` (all hits) under each light."""
        out = np.zeros((len(lights), len(points), 3))
        directions = np.stack([light.direction for light in lights])
        ambient = np.array([light.ambient for light in lights])[:, None]
        intensity = np.array([light.intensity for light in lights])[:, None]
        surface_of = self.scene.face_surface[faces]
        for index in np.unique(surface_of):
            mask = surface_of == index
            pts = points[mask]
            albedo = self.scene.surfaces[index].texture.albedo(pts)
            normal = self.scene.normals(index, pts, faces[mask])
            lambert = np.maximum(normal @ directions.T, 0.0).T  # [L, n]
            shading = ambient + intensity * lambert
            out[:, mask] = shading[..., None] * albedo[None]
        return out

    def render(self, intrinsic: np.ndarray, extrinsic: np.ndarray,
               size: Tuple[int, int], lights: Sequence[Light],
               supersample: int = 2) -> ViewRender:
        """Render one view (see the module docstring).

        Args:
            intrinsic: ``[3, 3]`` K of the ``size`` image.
            extrinsic: ``[4, 4]`` world-to-camera.
            size: ``(H, W)``.
            lights: Lights to render images for.
            supersample: ``s``: colour from ``s x s`` rays per pixel.

        Returns:
            The depth map, one image per light and the hit points.
        """
        height, width = size
        rows, cols = np.mgrid[0:height, 0:width]
        centres = np.stack([cols.ravel(), rows.ravel()], 1).astype(np.float64)
        origin, directions = pixel_rays(intrinsic, extrinsic, centres)
        faces, depth = self.cast(origin, directions)
        valid = faces >= 0
        points = origin + directions[valid] * depth[valid, None]

        steps = (np.arange(supersample) + 0.5) / supersample - 0.5
        offsets = np.stack(np.meshgrid(steps, steps), -1).reshape(-1, 2)
        colour = np.zeros((len(lights), height * width, 3))
        for offset in offsets:
            _, sub_dirs = pixel_rays(intrinsic, extrinsic, centres + offset)
            sub_faces, sub_param = self.cast(origin, sub_dirs)
            hit = sub_faces >= 0
            sub_points = origin + sub_dirs[hit] * sub_param[hit, None]
            colour[:, hit] += self.radiance(sub_points, sub_faces[hit],
                                            lights)
        colour *= 255.0 / len(offsets)
        images = np.rint(np.clip(colour, 0, 255)).astype(np.uint8)
        return ViewRender(
            depth=depth.reshape(height, width).astype(np.float32),
            images=images.reshape(len(lights), height, width, 3),
            points=points)
