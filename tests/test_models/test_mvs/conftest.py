"""Synthetic multi-view scenes for the MVS tests, computed in numpy float64
independently of mmext's geometry.

A scene is a fronto-parallel plane at depth ``z0`` in the reference camera,
textured by a smooth random function of the reference pixel coordinates
(sums of sinusoids with periods of 14 to 26 pixels), seen by cameras that
look at a point on the plane. Every view is rendered exactly by intersecting
each pixel's ray with the plane.
"""
import numpy as np
import pytest
import torch


def look_at(centre, target, up=(0.0, -1.0, 0.0)) -> np.ndarray:
    """World-to-camera 4x4 (x right, y down, z forward) of a camera at
    ``centre`` looking at ``target``."""
    centre, target = np.asarray(centre, float), np.asarray(target, float)
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, float))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    extrinsics = np.eye(4)
    extrinsics[:3, :3] = np.stack([x, y, z])
    extrinsics[:3, 3] = -extrinsics[:3, :3] @ centre
    return extrinsics


class Texture:
    """A smooth random texture on reference pixel coordinates, 3 channels
    in [0, 1]."""

    def __init__(self, seed: int, waves: int = 4) -> None:
        rng = np.random.default_rng(seed)
        angle = rng.uniform(0, np.pi, (3, waves))
        period = rng.uniform(14, 26, (3, waves))
        self.kx = 2 * np.pi * np.cos(angle) / period
        self.ky = 2 * np.pi * np.sin(angle) / period
        self.phase = rng.uniform(0, 2 * np.pi, (3, waves))
        self.amplitude = 0.5 / waves

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``[3, *x.shape]``."""
        arg = (self.kx[:, :, None] * x.reshape(-1) +
               self.ky[:, :, None] * y.reshape(-1) + self.phase[:, :, None])
        value = 0.5 + self.amplitude * np.sin(arg).sum(axis=1)
        return value.reshape(3, *x.shape)


def render_plane(texture, k_ref, e_ref, k_view, e_view, z0, height, width):
    """The view of the textured plane ``z = z0`` (reference camera
    coordinates), ``[3, H, W]``; also the source-to-reference pixel map."""
    motion = e_view @ np.linalg.inv(e_ref)  # reference camera -> view
    rot, trans = motion[:3, :3], motion[:3, 3]
    y, x = np.mgrid[0:height, 0:width].astype(float)
    pix = np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    ray = rot.T @ np.linalg.inv(k_view) @ pix  # direction, ref coordinates
    origin = -rot.T @ trans  # view centre, ref coordinates
    scale = (z0 - origin[2]) / ray[2]
    point = origin[:, None] + scale * ray  # on the plane
    ref_pix = k_ref @ (point / point[2])
    image = texture(ref_pix[0], ref_pix[1]).reshape(3, height, width)
    return image, ref_pix[:2].reshape(2, height, width)


def make_plane_scene(height=32, width=40, z0=4.0, num_views=3, seed=0,
                     focal=None):
    """Images ``[V, 3, H, W]``, intrinsics ``[V, 3, 3]`` and world-to-camera
    extrinsics ``[V, 4, 4]`` (float64 numpy) of a textured plane at depth
    ``z0``; the world frame is not the reference camera's."""
    focal = focal or 1.2 * width
    texture = Texture(seed)
    intrinsics, extrinsics, images = [], [], []
    e_ref = look_at((0.3, -0.2, -1.0), (0.3, -0.2 + 0.1, 3.0))
    target = np.linalg.inv(e_ref) @ np.array([0, 0, z0, 1.0])
    offsets = [(0, 0, 0), (0.5, 0.1, 0.1), (-0.4, 0.25, -0.1),
               (0.2, -0.4, 0.0)]
    centre_ref = np.linalg.inv(e_ref)[:3, 3]
    for v in range(num_views):
        k = np.array([[focal * (1 + 0.03 * v), 0, (width - 1) / 2 + v],
                      [0, focal, (height - 1) / 2 - 0.5 * v], [0, 0, 1]])
        if v == 0:
            e = e_ref
        else:
            e = look_at(centre_ref + np.asarray(offsets[v]), target[:3])
        intrinsics.append(k)
        extrinsics.append(e)
    for v in range(num_views):
        image, _ = render_plane(texture, intrinsics[0], extrinsics[0],
                                intrinsics[v], extrinsics[v], z0, height,
                                width)
        images.append(image)
    return np.stack(images), np.stack(intrinsics), np.stack(extrinsics)


@pytest.fixture
def plane_scene():
    """``make_plane_scene(...)`` as torch float32 tensors with a batch
    dimension: imgs [1, V, 3, H, W], intrinsics [1, V, 3, 3], extrinsics
    [1, V, 4, 4]."""

    def build(**kwargs):
        imgs, ks, es = make_plane_scene(**kwargs)
        return tuple(
            torch.from_numpy(a).float()[None] for a in (imgs, ks, es))

    return build


@pytest.fixture
def scene_parts():
    """The numpy helpers: look_at, Texture, render_plane,
    make_plane_scene."""
    return dict(look_at=look_at, Texture=Texture, render_plane=render_plane,
                make_plane_scene=make_plane_scene)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every MVS test runs with one intra-op thread (see
    ``one_torch_thread``)."""
    yield
