"""Procedural Shapes-MVS scenes: textured primitives on a textured ground.

A scene is a square ground plate ``[-g, g]^2`` at ``z = 0`` and a few
primitives (box, sphere, cylinder, cone from ``trimesh.creation``) of
random size, yaw and texture, with non-overlapping footprints inside the
placement disk, each resting on the ground or floating slightly above it
(cylinders may lie on their side). Every surface has its own
:class:`~.textures.SolidTexture` and an exact normal (flat faces for the
ground, boxes and caps; analytic normals for the curved sides), so shading
does not show the tessellation.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
import trimesh

from .presets import ShapesMVSPreset
from .textures import SolidTexture

KINDS = ('box', 'sphere', 'cylinder', 'cone')
#: Gap between object footprints, mm.
FOOTPRINT_GAP = 4.0
#: Chance that an object floats (otherwise it rests on the ground).
FLOAT_PROB = 0.3
#: Chance that a cylinder lies on its side.
LYING_PROB = 0.4
#: Tallest cylinder or cone, as a multiple of the main size (boxes and
#: spheres are at most the main size high).
MAX_HEIGHT_FACTOR = 1.3
#: Tessellation of the curved primitives.
SPHERE_SUBDIVISIONS = 3
SECTIONS = 48


@dataclass(frozen=True, eq=False)
class Surface:
    """One textured surface of a scene.

    Attributes:
        kind: ``'ground'`` or one of :data:`KINDS`.
        texture: Its albedo field.
        pose: ``[4, 4]`` local-to-world transform (rotation and
            translation).
        params: Shape parameters in the local frame: ``extents`` (box),
            ``radius`` (sphere, cylinder, cone), ``height`` (cylinder, cone;
            a cylinder spans ``z`` in ``[-h/2, h/2]``, a cone has its base
            at ``z = 0`` and its apex at ``z = h``).
    """

    kind: str
    texture: SolidTexture
    pose: np.ndarray
    params: Dict[str, object] = field(default_factory=dict)

    def describe(self) -> Dict:
        """JSON-friendly summary for ``meta.json``."""
        params = {k: np.round(np.asarray(v, float), 3).tolist()
                  for k, v in self.params.items()}
        return dict(kind=self.kind, params=params,
                    origin=np.round(self.pose[:3, 3], 3).tolist())


@dataclass(eq=False)
class Scene:
    """A scene's surfaces and the triangle mesh the renderer intersects.

    Attributes:
        surfaces: Surface 0 is the ground, then the objects.
        mesh: All surfaces' triangles in one mesh (``process=False``).
        face_surface: ``[F]`` index into ``surfaces`` of every face.
    """

    surfaces: List[Surface]
    mesh: trimesh.Trimesh
    face_surface: np.ndarray

    def normals(self, surface: int, points: np.ndarray,
                faces: np.ndarray) -> np.ndarray:
        """Unit outward normals ``[N, 3]`` of ``surfaces[surface]`` at its
        world points ``[N, 3]`` hit on mesh faces ``[N]``."""
        info = self.surfaces[surface]
        face_normals = self.mesh.face_normals[faces]
        if info.kind in ('ground', 'box'):
            return face_normals
        rotation, origin = info.pose[:3, :3], info.pose[:3, 3]
        local = (points - origin) @ rotation  # R^T (x - o)
        local_faces = face_normals @ rotation
        radial = local.copy()
        radial[:, 2] = 0.0
        radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True),
                             1e-12)
        if info.kind == 'sphere':
            normal = local / np.linalg.norm(local, axis=1, keepdims=True)
        elif info.kind == 'cylinder':
            cap = np.abs(local_faces[:, 2:]) > 0.5
            normal = np.where(cap, local_faces, radial)
        else:  # cone: side normal ~ (h * radial, r)
            height, radius = info.params['height'], info.params['radius']
            side = height * radial
            side[:, 2] = radius
            side /= np.linalg.norm(side, axis=1, keepdims=True)
            base = local_faces[:, 2:] < -0.5
            normal = np.where(base, local_faces, side)
        return normal @ rotation.T


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _primitive(kind: str, size: float,
               rng: np.random.Generator) -> Tuple[trimesh.Trimesh, Dict,
                                                  np.ndarray]:
    """A primitive of main size ``size`` in its local frame, its
    parameters and a random rotation (yaw; lying cylinders first turn
    about x)."""
    rotation = _rotation_z(rng.uniform(0, 2 * np.pi))
    if kind == 'box':
        extents = size * rng.uniform(0.55, 1.0, size=3)
        mesh = trimesh.creation.box(extents=extents)
        params = dict(extents=extents)
    elif kind == 'sphere':
        radius = size / 2
        mesh = trimesh.creation.icosphere(SPHERE_SUBDIVISIONS, radius)
        params = dict(radius=radius)
    elif kind == 'cylinder':
        radius = size / 2 * rng.uniform(0.5, 0.8)
        height = size * rng.uniform(0.7, MAX_HEIGHT_FACTOR)
        mesh = trimesh.creation.cylinder(radius, height, sections=SECTIONS)
        params = dict(radius=radius, height=height)
        if rng.random() < LYING_PROB:
            rotation = rotation @ np.array([[1.0, 0.0, 0.0],
                                            [0.0, 0.0, -1.0],
                                            [0.0, 1.0, 0.0]])
    else:
        radius = size / 2 * rng.uniform(0.7, 1.0)
        height = size * rng.uniform(0.8, MAX_HEIGHT_FACTOR)
        mesh = trimesh.creation.cone(radius, height, sections=SECTIONS)
        params = dict(radius=radius, height=height)
    return mesh, params, rotation


def _ground(preset: ShapesMVSPreset) -> trimesh.Trimesh:
    g = preset.ground_half_size
    vertices = np.array([[-g, -g, 0.0], [g, -g, 0.0], [g, g, 0.0],
                         [-g, g, 0.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])  # counter-clockwise: +z up
    return trimesh.Trimesh(vertices, faces, process=False)


def random_scene(preset: ShapesMVSPreset, rng: np.random.Generator) -> Scene:
    """Draw one scene from ``rng`` (see the module docstring).

    Objects are drawn one by one (kind, size, rotation, texture, lift);
    each gets up to ``placement_tries`` random footprint positions inside
    the placement disk that keep :data:`FOOTPRINT_GAP` from earlier
    footprints, and is skipped if none fits.
    """
    cell = preset.texture_cell
    surfaces = [Surface('ground', SolidTexture.random(
        rng, cell * 1.5, saturation=(0.2, 0.5)), np.eye(4))]
    meshes = [_ground(preset)]
    placed: List[Tuple[np.ndarray, float]] = []
    count = rng.integers(preset.objects[0], preset.objects[1] + 1)
    for _ in range(count):
        kind = KINDS[rng.integers(len(KINDS))]
        size = rng.uniform(*preset.object_size)
        local, params, rotation = _primitive(kind, size, rng)
        texture = SolidTexture.random(rng, cell)
        lift = rng.uniform(2.0, preset.max_lift) \
            if rng.random() < FLOAT_PROB else 0.0
        turned = local.vertices @ rotation.T
        low, high = turned.min(axis=0), turned.max(axis=0)
        center = (low + high) / 2
        footprint = np.linalg.norm(turned[:, :2] - center[:2], axis=1).max()
        reach = preset.placement_radius - footprint
        position = None
        for _ in range(preset.placement_tries):
            radius = reach * np.sqrt(rng.random())
            angle = rng.uniform(0, 2 * np.pi)
            candidate = radius * np.array([np.cos(angle), np.sin(angle)])
            if reach > 0 and all(
                    np.linalg.norm(candidate - other) >=
                    footprint + other_radius + FOOTPRINT_GAP
                    for other, other_radius in placed):
                position = candidate
                break
        if position is None:
            continue
        placed.append((position, footprint))
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:3, 3] = (position[0] - center[0], position[1] - center[1],
                       lift - low[2])
        mesh = trimesh.Trimesh(turned + pose[:3, 3], local.faces,
                               process=False)
        meshes.append(mesh)
        surfaces.append(Surface(kind, texture, pose, params))
    face_surface = np.concatenate(
        [np.full(len(m.faces), k, np.int64) for k, m in enumerate(meshes)])
    vertices, faces, base = [], [], 0
    for mesh in meshes:
        vertices.append(mesh.vertices)
        faces.append(mesh.faces + base)
        base += len(mesh.vertices)
    mesh = trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces),
                           process=False)
    return Scene(surfaces, mesh, face_surface)


def content_box(preset: ShapesMVSPreset) -> np.ndarray:
    """``[8, 3]`` corners of a box that holds every possible scene: the
    ground square up to the tallest possible object plus ``max_lift``."""
    g = preset.ground_half_size
    top = MAX_HEIGHT_FACTOR * preset.object_size[1] + preset.max_lift
    corners = [(x, y, z) for x in (-g, g) for y in (-g, g) for z in (0, top)]
    return np.array(corners, dtype=np.float64)
