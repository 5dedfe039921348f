"""Depth hypotheses: the coarsest planes, the residuals and their
interval."""
import numpy as np
import pytest
import torch

from mmext.models.mvs import (epipolar_interval, fixed_interval,
                              residual_hypotheses, residual_offsets,
                              scale_intrinsics, uniform_hypotheses)


def test_uniform_planes_for_dtu():
    planes = uniform_hypotheses(torch.tensor([425.0]), torch.tensor([1065.0]),
                                48)
    assert planes.shape == (1, 48)
    assert planes[0, 0].item() == 425.0 and planes[0, -1].item() == 1065.0
    spacing = planes[0, 1:] - planes[0, :-1]
    torch.testing.assert_close(spacing, torch.full((47, ), 640 / 47),
                               atol=1e-4, rtol=0)
    assert abs(640 / 47 - 13.617) < 1e-3


def test_uniform_planes_are_per_sample():
    planes = uniform_hypotheses(torch.tensor([1.0, 10.0]),
                                torch.tensor([2.0, 40.0]), 4)
    torch.testing.assert_close(
        planes, torch.tensor([[1.0, 4 / 3, 5 / 3, 2.0],
                              [10.0, 20.0, 30.0, 40.0]]))


def test_residual_hypotheses_offsets_are_minus_four_to_three():
    assert list(residual_offsets(8)) == [-4, -3, -2, -1, 0, 1, 2, 3]
    depth = torch.tensor([[[5.0, 7.0]], [[100.0, 200.0]]])  # [2, 1, 2]
    hyp = residual_hypotheses(depth, torch.tensor([0.5, 10.0]), 8)
    assert hyp.shape == (2, 8, 1, 2)
    offsets = torch.arange(-4, 4).float()
    torch.testing.assert_close(hyp[0, :, 0, 1], 7.0 + 0.5 * offsets)
    torch.testing.assert_close(hyp[1, :, 0, 0], 100.0 + 10.0 * offsets)


def test_fixed_interval():
    torch.testing.assert_close(fixed_interval(6.8085, 3),
                               torch.full((3, ), 6.8085))
    with pytest.raises(ValueError, match='interval must be > 0'):
        fixed_interval(0.0, 1)


def _rectified_pair(focal, baseline, height=12, width=16):
    k = torch.tensor([[[focal, 0, (width - 1) / 2], [0, focal,
                                                     (height - 1) / 2],
                       [0, 0, 1]]], dtype=torch.float64)
    e_ref = torch.eye(4, dtype=torch.float64)[None]
    e_src = e_ref.clone()
    e_src[0, 0, 3] = -baseline  # source centre at x = +baseline
    return k, e_ref, e_src


def test_epipolar_interval_on_a_rectified_pair_is_one_pixel_of_disparity():
    # Here the released per-pixel 2x2 system is singular at every pixel
    # (horizontal epipolar lines, identical y and z rows): no error here.
    focal, baseline, z = 100.0, 10.0, 50.0
    k, e_ref, e_src = _rectified_pair(focal, baseline)
    depth = torch.full((1, 12, 16), z, dtype=torch.float64)
    interval = epipolar_interval(depth, k, e_ref, k, e_src)
    # One pixel towards +x: disparity f b / z' = f b / z - 1.
    exact = z**2 / (focal * baseline - z)
    torch.testing.assert_close(interval, torch.tensor([exact],
                                                      dtype=torch.float64))
    assert abs(interval.item() / (z**2 / (focal * baseline)) - 1) < 0.06
    # Source on the other side: the step towards +x increases disparity.
    _, _, e_left = _rectified_pair(focal, -baseline)
    left = epipolar_interval(depth, k, e_ref, k, e_left)
    torch.testing.assert_close(
        left, torch.tensor([z**2 / (focal * baseline + z)],
                           dtype=torch.float64))
    # Half a pixel.
    half = epipolar_interval(depth, k, e_ref, k, e_src, pixels=0.5)
    torch.testing.assert_close(
        half, torch.tensor([0.5 * z**2 / (focal * baseline - 0.5 * z)],
                           dtype=torch.float64))


def _verged_pair(scene_parts, height, width):
    look_at = scene_parts['look_at']
    target = (0.0, 0.0, 700.0)
    e_ref = look_at((0.0, 0.0, 0.0), target)
    e_src = look_at((97.0, 12.0, 7.0), target)
    k = np.array([[361.5 * width / 160, 0, 82.9 * width / 160],
                  [0, 361.5 * width / 160, 66.4 * height / 128], [0, 0, 1]])
    return [torch.from_numpy(a)[None] for a in (k, e_ref, k, e_src)]


def test_epipolar_interval_halves_when_the_resolution_doubles(scene_parts):
    # A DTU-like verged pair (focal 361.5 at 160x128, baseline about 10 cm
    # at 70 cm). The step is exact, not linearised: d'^2 / (f b - d) on a
    # rectified pair, so the ratio tends to 2 as f grows.
    k, e_ref, _, e_src = _verged_pair(scene_parts, 64, 80)
    intervals = []
    for scale in (1, 2, 4):
        k_level = scale_intrinsics(k, 1 / scale)
        depth = torch.full((1, 64 * scale, 80 * scale), 700.0)
        intervals.append(
            epipolar_interval(depth, k_level, e_ref, k_level, e_src).item())
    assert 25 < intervals[0] < 30  # about d^2 / (f b) = 27
    ratios = [intervals[0] / intervals[1], intervals[1] / intervals[2]]
    assert abs(ratios[0] - 2) < 0.05, ratios
    assert abs(ratios[1] - 2) < 0.025, ratios
    assert abs(ratios[1] - 2) < abs(ratios[0] - 2)


def _numeric_interval(k_ref, e_ref, k_src, e_src, depth, pixels):
    """Mean |d' - d| with the projection of depth d' one step (towards +x)
    along the epipolar line from that of d, by Newton's method on the
    projections of world points."""
    height, width = depth.shape
    y, x = np.mgrid[0:height, 0:width].astype(float)
    pix = np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    rays = np.linalg.inv(k_ref) @ pix  # camera coordinates at depth 1
    cam_to_world = np.linalg.inv(e_ref)

    def project(d):
        cam = np.vstack([rays * d, np.ones(d.size)])
        src = (e_src @ cam_to_world @ cam)[:3]
        src = k_src @ src
        return src[:2] / src[2]

    d0 = depth.ravel().astype(float)
    p0 = project(d0)
    direction = project(d0 * (1 + 1e-6)) - p0
    direction /= np.linalg.norm(direction, axis=0)
    direction *= np.where(direction[0] >= 0, 1.0, -1.0)
    d = d0.copy()
    for _ in range(30):
        step = ((project(d) - p0) * direction).sum(0) - pixels
        slope = (((project(d + 1e-4) - project(d - 1e-4)) * direction).sum(0)
                 / 2e-4)
        d = d - step / slope
    return np.abs(d - d0).mean()


def test_epipolar_interval_matches_a_numeric_solution(scene_parts):
    look_at = scene_parts['look_at']
    rng = np.random.default_rng(0)
    k_ref = np.array([[30.0, 0.2, 4.1], [0, 29.0, 2.7], [0, 0, 1]])
    k_src = np.array([[27.0, 0.0, 3.6], [0, 28.5, 3.2], [0, 0, 1]])
    e_ref = look_at((0.2, 0.1, -1.0), (0.0, 0.3, 4.0))
    e_src = look_at((0.9, -0.3, -0.6), (0.1, 0.2, 4.0))
    depth = rng.uniform(3.0, 5.0, (6, 8))
    expected = _numeric_interval(k_ref, e_ref, k_src, e_src, depth, 1.0)
    got = epipolar_interval(*[
        torch.from_numpy(a)[None] for a in (depth, k_ref, e_ref, k_src,
                                             e_src)
    ])
    assert abs(got.item() / expected - 1) < 1e-6, (got.item(), expected)


def test_epipolar_interval_without_baseline_is_an_error():
    k, e_ref, _ = _rectified_pair(100.0, 10.0)
    e_rotated = e_ref.clone()
    e_rotated[0, :3, :3] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0],
                                         [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match='camera centres coincide'):
        epipolar_interval(torch.full((1, 12, 16), 5.0), k, e_ref, k,
                          e_rotated)
