"""Tests of mmext.mvs geometry and depth fusion on an exact synthetic scene
(a tilted plane seen by five cameras, :mod:`mmext.testing.mvs_scene`)."""
import numpy as np
import pytest

from mmext.mvs import (ViewPrediction, backproject_depth, camera_centre,
                       check_geometric_consistency, fuse_scan, fuse_view,
                       look_at, pixel_grid, project_points, sample_depth,
                       unproject_pixels)
from mmext.testing.mvs_scene import HEIGHT, NORMAL, WIDTH


def _views(scene, confidence=1.0):
    return {
        view: ViewPrediction(depth=s['depth'],
                             confidence=np.full(s['depth'].shape,
                                                confidence),
                             image=s['image'], intrinsic=s['intrinsic'],
                             extrinsic=s['extrinsic'])
        for view, s in scene.items()
    }


def _decode(points, colors, scene):
    """Each point's source view and pixel (from its colour), and where it
    projects in that view."""
    views = colors[:, 2].astype(int)
    pixels = colors[:, :2].astype(float)
    projected = np.empty_like(pixels)
    for view in np.unique(views):
        at = views == view
        uv, _ = project_points(points[at], scene[view]['intrinsic'],
                               scene[view]['extrinsic'])
        projected[at] = uv
    return views, pixels, projected


def test_project_backproject_round_trip(plane_scene):
    rng = np.random.default_rng(0)
    s = plane_scene[2]
    depth = rng.uniform(300, 900, (HEIGHT, WIDTH))
    world = backproject_depth(depth, s['intrinsic'], s['extrinsic'])
    assert world.shape == (HEIGHT, WIDTH, 3)
    uv, z = project_points(world, s['intrinsic'], s['extrinsic'])
    np.testing.assert_allclose(uv, pixel_grid(HEIGHT, WIDTH), atol=1e-9)
    np.testing.assert_allclose(z, depth, rtol=1e-12)
    assert pixel_grid(2, 3)[1, 2].tolist() == [2.0, 1.0]  # (u, v) = (col, row)


def test_backprojected_exact_depth_lies_on_the_plane(plane_scene):
    for s in plane_scene.values():
        world = backproject_depth(s['depth'], s['intrinsic'],
                                  s['extrinsic'])
        assert np.abs(world @ NORMAL).max() < 1e-9
        # The camera centre is where depth 0 goes.
        centre = unproject_pixels(np.zeros(2), np.zeros(()),
                                  s['intrinsic'], s['extrinsic'])
        np.testing.assert_allclose(
            centre, -s['extrinsic'][:3, :3].T @ s['extrinsic'][:3, 3])


def test_look_at_and_camera_centre():
    centre, target = np.array([300.0, -400.0, 250.0]), (10.0, 20.0, 5.0)
    for up, roll in (((0.0, 0.0, 1.0), 0.0), ((0.0, -1.0, 0.0), 0.0),
                     ((0.0, 0.0, 1.0), 7.5)):
        E = look_at(centre, target, up=up, roll=roll)
        rotation = E[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3),
                                   atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(camera_centre(E), centre, atol=1e-9)
        K = np.array([[50.0, 0, 20], [0, 50.0, 15], [0, 0, 1]])
        uv, z = project_points(np.asarray(target), K, E)
        np.testing.assert_allclose(uv, [20, 15], atol=1e-9)  # on the axis
        assert z == pytest.approx(np.linalg.norm(centre - target))
        # ``up`` points up in the image (smaller v), turned by the roll
        above, _ = project_points(np.asarray(target) + np.asarray(up), K, E)
        tilt = np.degrees(np.arctan2(above[0] - 20, 15 - above[1]))
        assert tilt == pytest.approx(-roll, abs=1e-6)


def test_points_behind_the_camera_have_no_pixel(plane_scene):
    s = plane_scene[0]
    centre = -s['extrinsic'][:3, :3].T @ s['extrinsic'][:3, 3]
    behind = 2 * centre  # beyond the camera, away from the origin
    uv, z = project_points(behind, s['intrinsic'], s['extrinsic'])
    assert z < 0 and np.isnan(uv).all()


def test_sample_depth():
    v, u = np.mgrid[0:4, 0:5].astype(float)
    ramp = 100 + 3 * u + 7 * v
    points = np.array([[1.25, 2.5], [4.0, 3.0], [0.0, 0.0], [4.01, 1.0],
                       [-0.01, 1.0], [np.nan, 1.0]])
    values, valid = sample_depth(ramp, points)
    np.testing.assert_allclose(values[:3], 100 + 3 * points[:3, 0] +
                               7 * points[:3, 1])
    assert valid.tolist() == [True, True, True, False, False, False]
    assert values[3:].tolist() == [0, 0, 0]
    # A hole poisons the samples that would blend it, not the others.
    holed = ramp.copy()
    holed[2, 1] = 0
    _, valid = sample_depth(holed, np.array([[1.5, 2.5], [1.0, 3.0],
                                             [2.0, 2.0]]))
    assert valid.tolist() == [False, True, True]
    values, valid = sample_depth(ramp, points[:5], 'nearest')
    # (1.25, 2.5): row 2.5 rounds down to row 3.
    assert values[:3].tolist() == [ramp[3, 1], ramp[3, 4], ramp[0, 0]]
    assert valid.tolist() == [True, True, True, True, True]
    with pytest.raises(ValueError, match='interpolation'):
        sample_depth(ramp, points, 'cubic')


@pytest.mark.parametrize('interpolation', ['bilinear', 'nearest'])
def test_exact_depths_agree_where_the_source_sees(plane_scene,
                                                  interpolation):
    ref, src = plane_scene[0], plane_scene[1]
    mask, depth = check_geometric_consistency(
        ref['depth'], ref['intrinsic'], ref['extrinsic'], src['depth'],
        src['intrinsic'], src['extrinsic'], interpolation=interpolation)
    world = backproject_depth(ref['depth'], ref['intrinsic'],
                              ref['extrinsic'])
    uv, _ = project_points(world, src['intrinsic'], src['extrinsic'])
    # Where the ref pixel lands inside the source map (nearest: with a
    # margin, as a pixel is off by up to half a pixel there).
    margin = 0.0 if interpolation == 'bilinear' else 0.5
    inside = (uv[..., 0] >= margin) & (uv[..., 0] <= WIDTH - 1 - margin) & \
        (uv[..., 1] >= margin) & (uv[..., 1] <= HEIGHT - 1 - margin)
    assert 0.4 < inside.mean() < 1.0
    if interpolation == 'bilinear':
        np.testing.assert_array_equal(mask, inside)
        np.testing.assert_allclose(depth[mask], ref['depth'][mask],
                                   rtol=1e-4)
    else:
        assert mask[inside].all()
    assert (depth[~mask] == 0).all()


def test_a_wrong_source_depth_disagrees(plane_scene):
    ref, src = plane_scene[0], plane_scene[1]

    def check(src_depth, **kwargs):
        return check_geometric_consistency(
            ref['depth'], ref['intrinsic'], ref['extrinsic'], src_depth,
            src['intrinsic'], src['extrinsic'], **kwargs)[0]

    exact = check(src['depth'])
    assert not check(src['depth'] * 1.05).any()
    # A 0.5% error passes the default depth test, not a 0.2% one.
    assert check(src['depth'] * 1.005, max_reprojection_error=5.0).any()
    assert not check(src['depth'] * 1.005, max_reprojection_error=5.0,
                     max_relative_depth_error=0.002).any()
    assert not check(np.zeros_like(src['depth'])).any()
    assert exact.any()
    with pytest.raises(ValueError, match='max_reprojection_error'):
        check(src['depth'], max_reprojection_error=0)


def test_fusing_exact_depths_recovers_the_surface(plane_scene, scene_pairs):
    points, colors = fuse_scan(_views(plane_scene), scene_pairs,
                               num_consistent=3)
    assert points.dtype == np.float32 and colors.dtype == np.uint8
    # On the plane: up to the bilinear sampling of a depth map (depth is
    # not linear in the pixel) and float32, far below a pixel (~10 mm).
    assert np.abs(points.astype(float) @ NORMAL).max() < 0.05
    # Most pixels are kept: the middle views see the plane in all others.
    assert len(points) > 0.6 * 5 * HEIGHT * WIDTH
    # Every point comes from the pixel its colour names, in its view.
    views, pixels, projected = _decode(points, colors, plane_scene)
    np.testing.assert_allclose(projected, pixels, atol=1e-3)
    assert set(views.tolist()) == set(range(5))


def test_a_corrupted_view_removes_what_needs_it(plane_scene, scene_pairs):
    rng = np.random.default_rng(0)
    views = _views(plane_scene)
    noise = rng.uniform(1.03, 1.08, (HEIGHT, WIDTH))  # one sign: no blend
    # of neighbours can cancel it
    bad = views[2].depth.copy()
    bad[:, :WIDTH // 2] *= noise[:, :WIDTH // 2]  # left half of view 2
    views[2].depth = bad
    pairs = {0: [1, 2], 1: [0, 2], 2: [0, 1], 3: [2, 4], 4: [3, 2]}
    subset = {v: views[v] for v in (0, 1, 2)}
    # View 0 needs both sources: its pixels seen by view 2's left half go.
    keep, _ = fuse_view(views[0], [views[1], views[2]], num_consistent=2)
    world = backproject_depth(plane_scene[0]['depth'],
                              plane_scene[0]['intrinsic'],
                              plane_scene[0]['extrinsic'])
    uv2, _ = project_points(world, plane_scene[2]['intrinsic'],
                            plane_scene[2]['extrinsic'])
    in_bad_half = (uv2[..., 0] >= 0) & (uv2[..., 0] < WIDTH // 2 - 1) & \
        (uv2[..., 1] >= 0) & (uv2[..., 1] <= HEIGHT - 1)
    assert in_bad_half.sum() > 50
    assert not keep[in_bad_half].any()
    clean, _ = fuse_view(_views(plane_scene)[0],
                         [views[1], _views(plane_scene)[2]],
                         num_consistent=2)
    assert clean[in_bad_half].mean() > 0.9
    # View 2 wrong everywhere: with two sources needed, nothing survives
    # (every reference needs view 2 or is view 2); with one, views 0 and 1
    # keep what they see together, on the plane.
    views[2].depth = plane_scene[2]['depth'] * noise
    control, _ = fuse_scan(_views(plane_scene), pairs, num_consistent=2)
    assert len(control) > 0.5 * 5 * HEIGHT * WIDTH
    points, _ = fuse_scan(subset, pairs, num_consistent=2)
    assert len(points) == 0
    points, colors = fuse_scan(subset, pairs, num_consistent=1)
    assert np.abs(points.astype(float) @ NORMAL).max() < 0.05
    source_view, _, _ = _decode(points, colors, plane_scene)
    assert set(source_view.tolist()) == {0, 1}
    # With one source enough, view 0 keeps those pixels through view 1.
    keep1, _ = fuse_view(views[0], [views[1], views[2]], num_consistent=1)
    assert keep1[in_bad_half].mean() > 0.5


def test_confidence_filter(plane_scene, scene_pairs):
    views = _views(plane_scene)
    confidence = np.ones((HEIGHT, WIDTH))
    confidence[:HEIGHT // 2] = 0.5
    confidence[HEIGHT // 2] = 0.8  # equal to the threshold: dropped too
    views[3].confidence = confidence.astype(np.float32)
    points, colors = fuse_scan(views, scene_pairs, confidence_threshold=0.8)
    source_view, pixels, _ = _decode(points, colors, plane_scene)
    rows = pixels[source_view == 3, 1]
    assert len(rows) > 100 and rows.min() == HEIGHT // 2 + 1
    everything, _ = fuse_scan(views, scene_pairs, confidence_threshold=0.4)
    assert len(everything) > len(points)


def test_sources_come_from_pairs(plane_scene):
    views = _views(plane_scene)
    # (id, score) entries as DTUMVSDataset.pairs gives them; missing views
    # and the reference itself are skipped.
    pairs = {v: [(w, 1.0) for w in (9, v, *range(5)) if w != v]
             for v in range(5)}
    points, _ = fuse_scan(views, pairs, num_consistent=2)
    with pytest.warns(UserWarning, match=r'views \[0, 1, 2, 3, 4\]'):
        limited, _ = fuse_scan(views, pairs, num_consistent=2,
                               max_sources=1)
    assert len(limited) == 0 < len(points)
    with pytest.warns(UserWarning, match='fewer than num_consistent'):
        fuse_scan(views, pairs, num_consistent=5)
    with pytest.raises(KeyError, match='no source list for view 4'):
        fuse_scan(views, {v: pairs[v] for v in range(4)})
    with pytest.raises(ValueError, match='views'):
        fuse_scan({}, pairs)


def test_view_prediction_checks_shapes(plane_scene):
    s = plane_scene[0]
    good = dict(depth=s['depth'], confidence=np.ones((HEIGHT, WIDTH)),
                image=s['image'], intrinsic=s['intrinsic'],
                extrinsic=s['extrinsic'])
    ViewPrediction(**good)
    with pytest.raises(ValueError, match='confidence'):
        ViewPrediction(**dict(good, confidence=np.ones((2, 2))))
    with pytest.raises(ValueError, match='image'):
        ViewPrediction(**dict(good, image=s['image'].astype(float)))
    with pytest.raises(ValueError, match='extrinsic'):
        ViewPrediction(**dict(good, extrinsic=np.eye(3)))
