"""Plane-sweep geometry: intrinsics per level, relative projection, the
homography grid's pixel convention and feature warping."""
import numpy as np
import torch

from mmext.models.mvs import (homography_grid, relative_projection,
                              scale_intrinsics, warp_volume)

H, W, Z0 = 48, 64, 4.0


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))[None]


def test_scale_intrinsics_divides_the_first_two_rows():
    k = torch.tensor([[[100.0, 0.5, 40.0], [0.0, 90.0, 30.0], [0, 0, 1]]])
    half = scale_intrinsics(k, 2)
    assert torch.equal(half[0, :2], k[0, :2] / 2)
    assert torch.equal(half[0, 2], k[0, 2])
    assert torch.equal(k[0, 0, 0], torch.tensor(100.0))  # not in place


def test_relative_projection_maps_pixel_times_depth_to_the_source(
        scene_parts):
    rng = np.random.default_rng(1)
    e_ref = scene_parts['look_at']((0.1, 0.2, -2.0), (0.0, 0.3, 4.0))
    e_src = scene_parts['look_at']((0.7, -0.1, -1.8), (0.0, 0.3, 4.0))
    k_ref = np.array([[70.0, 0, 31], [0, 72, 25], [0, 0, 1]])
    k_src = np.array([[65.0, 0, 33], [0, 66, 22], [0, 0, 1]])
    world = np.append(rng.uniform(-1, 1, 3) + [0, 0, 4], 1.0)
    cam_ref = (e_ref @ world)[:3]
    cam_src = (e_src @ world)[:3]
    pix_ref = k_ref @ cam_ref / cam_ref[2]
    pix_src = k_src @ cam_src / cam_src[2]
    rot, trans = relative_projection(t64(k_ref), t64(e_ref), t64(k_src),
                                     t64(e_src))
    homogeneous = (rot[0].numpy() @ pix_ref * cam_ref[2] +
                   trans[0, :, 0].numpy())
    np.testing.assert_allclose(homogeneous / homogeneous[2], pix_src,
                               atol=1e-9)
    np.testing.assert_allclose(homogeneous[2], cam_src[2], rtol=1e-12)


def _plane_homography(k_ref, e_ref, k_src, e_src, z0):
    """H of the plane z = z0 (reference camera): X_src = (R + t n^T / z0)
    X_ref for n = (0, 0, 1)."""
    motion = e_src @ np.linalg.inv(e_ref)
    rot, trans = motion[:3, :3], motion[:3, 3:]
    normal = np.array([[0.0, 0.0, 1.0]])
    return k_src @ (rot + trans @ normal / z0) @ np.linalg.inv(k_ref)


def test_homography_grid_is_the_plane_homography_at_integer_centres(
        scene_parts):
    imgs, ks, es = scene_parts['make_plane_scene'](H, W, Z0, num_views=2)
    hom = _plane_homography(ks[0], es[0], ks[1], es[1], Z0)
    rot, trans = relative_projection(t64(ks[0]), t64(es[0]), t64(ks[1]),
                                     t64(es[1]))
    grid = homography_grid(rot, trans, torch.tensor([[Z0]],
                                                    dtype=torch.float64),
                           H, W)[0].numpy()  # [H, W, 2]
    y, x = np.mgrid[0:H, 0:W].astype(float)
    mapped = hom @ np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    mapped = (mapped[:2] / mapped[2]).reshape(2, H, W)
    # x_norm = x / ((W - 1) / 2) - 1 (pixel centres at integers)
    inside = (np.abs(grid) < 4).all(-1)
    np.testing.assert_allclose(
        (grid[..., 0] + 1) * (W - 1) / 2, mapped[0], atol=1e-9)
    np.testing.assert_allclose(
        (grid[..., 1] + 1) * (H - 1) / 2, mapped[1], atol=1e-9)
    assert inside.all()


def _warp_error(plane_scene, depths, **kwargs):
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0, num_views=2)
    warped = warp_volume(imgs[:, 1], ks[:, 0], es[:, 0], ks[:, 1], es[:, 1],
                         torch.tensor([depths]), **kwargs)  # [1, 3, D, H, W]
    # Valid: the reference pixel projects inside the source image with a
    # one-pixel margin at the true depth.
    rot, trans = relative_projection(ks[:, 0].double(), es[:, 0].double(),
                                     ks[:, 1].double(), es[:, 1].double())
    grid = homography_grid(rot, trans, torch.tensor([[Z0]]).double(), H, W)
    px = (grid[0, ..., 0] + 1) * (W - 1) / 2
    py = (grid[0, ..., 1] + 1) * (H - 1) / 2
    valid = (px >= 1) & (px <= W - 2) & (py >= 1) & (py <= H - 2)
    errors = (warped[0] - imgs[0, 0][:, None]).abs()  # [3, D, H, W]
    return errors[:, :, valid], valid


def test_warp_reproduces_the_reference_view_at_the_true_depth(plane_scene):
    errors, valid = _warp_error(plane_scene, [Z0, Z0 * 1.3])
    assert valid.float().mean() > 0.6
    at_truth, at_wrong = errors[:, 0], errors[:, 1]
    # Bilinear sampling of a texture with periods >= 14 px.
    assert at_truth.max() < 0.015, at_truth.max()
    assert at_truth.mean() < 0.005, at_truth.mean()
    assert at_wrong.mean() > 0.04, at_wrong.mean()


def test_the_released_sampling_convention_is_off_by_up_to_half_a_pixel(
        plane_scene):
    right, _ = _warp_error(plane_scene, [Z0])
    quirk, _ = _warp_error(plane_scene, [Z0], align_corners=False)
    assert quirk.mean() > 3 * right.mean(), (quirk.mean(), right.mean())


def test_warp_gradients_reach_features_not_depths(plane_scene):
    imgs, ks, es = plane_scene(height=16, width=20, z0=Z0, num_views=2)
    features = imgs[:, 1].clone().requires_grad_(True)
    depths = torch.tensor([[Z0, 5.0]], requires_grad=True)
    warped = warp_volume(features, ks[:, 0], es[:, 0], ks[:, 1], es[:, 1],
                         depths)
    assert warped.shape == (1, 3, 2, 16, 20)
    warped.sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert depths.grad is None


def test_points_behind_the_source_camera_sample_zeros(plane_scene):
    imgs, ks, es = plane_scene(height=16, width=20, z0=Z0, num_views=2)
    features = torch.ones(1, 1, 16, 20)
    # A negative depth puts every point behind both cameras.
    behind = torch.tensor([[-Z0]])
    warped = warp_volume(features, ks[:, 0], es[:, 0], ks[:, 1], es[:, 1],
                         behind)
    assert torch.equal(warped, torch.zeros_like(warped))
    # The released code divides by the negative z: mirrored points land in
    # the image and are sampled.
    mirrored = warp_volume(features, ks[:, 0], es[:, 0], ks[:, 1], es[:, 1],
                           behind, align_corners=False, mask_behind=False)
    assert mirrored.sum() > 0
