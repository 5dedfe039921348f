"""Point-cloud pictures: the z-buffer splat puts each point's colour at its
pixel and keeps the nearest point, the oblique default camera frames the
cloud with ``up`` up, and tools/mvs/render_point_cloud.py writes the
picture (next to the ground truth with --gt)."""
import cv2
import numpy as np
import pytest

from mmext.datasets.dtu_io import MVSCamera, write_cam_txt
from mmext.mvs import project_points, write_point_cloud
from mmext.testing.tools import load_tool
from mmext.visualization.point_cloud_render import (cloud_centre_and_radius,
                                                    orbit_camera,
                                                    render_point_cloud,
                                                    side_by_side)

H, W, F = 8, 12, 10.0
K = np.array([[F, 0, (W - 1) / 2], [0, F, (H - 1) / 2], [0, 0, 1]])
E = np.eye(4)
RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)
WHITE = (255, 255, 255)


def plane(z, rows=range(H), cols=range(W)):
    """One point per pixel of ``rows x cols`` at depth ``z`` (camera K, E);
    also the pixels as ``(row, col)`` arrays."""
    v, u = np.meshgrid(np.asarray(rows, float), np.asarray(cols, float),
                       indexing='ij')
    u, v = u.ravel(), v.ravel()
    points = np.stack([(u - K[0, 2]) * z / F, (v - K[1, 2]) * z / F,
                       np.full(u.shape, float(z))], axis=1)
    return points, (v.astype(int), u.astype(int))


def test_a_plane_facing_the_camera_lands_pixel_for_pixel():
    points, (rows, cols) = plane(5.0)
    colors = np.where((cols < W // 2)[:, None], RED, BLUE).astype(np.uint8)
    colors[(rows == 2) & (cols == 9)] = GREEN
    image, depth = render_point_cloud(points, colors, K, E, (H, W),
                                      point_size=1)
    expected = np.zeros((H, W, 3), np.uint8)
    expected[:, :W // 2] = RED
    expected[:, W // 2:] = BLUE
    expected[2, 9] = GREEN
    assert image.dtype == np.uint8 and image.shape == (H, W, 3)
    np.testing.assert_array_equal(image, expected)
    np.testing.assert_allclose(depth, 5.0)


@pytest.mark.parametrize('near_first', [True, False])
def test_nearer_points_occlude_farther_ones(near_first):
    far, _ = plane(5.0)
    near, _ = plane(3.0, rows=range(2, 6), cols=range(3, 8))
    parts = [(near, RED), (far, BLUE)]
    if not near_first:
        parts.reverse()
    points = np.concatenate([p for p, _ in parts])
    colors = np.concatenate(
        [np.tile(np.array(c, np.uint8), (len(p), 1)) for p, c in parts])
    image, depth = render_point_cloud(points, colors, K, E, (H, W),
                                      point_size=1)
    square = np.zeros((H, W), bool)
    square[2:6, 3:8] = True
    assert (image[square] == RED).all()
    assert (image[~square] == BLUE).all()
    np.testing.assert_allclose(depth[square], 3.0)
    np.testing.assert_allclose(depth[~square], 5.0)


def test_squares_of_point_size_and_a_near_point_covers_its_neighbours():
    centre, _ = plane(5.0, rows=[4], cols=[6])
    image, _ = render_point_cloud(centre, np.array([RED], np.uint8), K, E,
                                  (H, W), point_size=3)
    covered = np.zeros((H, W), bool)
    covered[3:6, 5:8] = True
    assert (image[covered] == RED).all() and (image[~covered] == WHITE).all()
    image, _ = render_point_cloud(centre, np.array([RED], np.uint8), K, E,
                                  (H, W), point_size=2)
    covered[:] = False
    covered[4:6, 6:8] = True
    assert (image[covered] == RED).all() and (image[~covered] == WHITE).all()
    # A big near point hides the far plane around its own pixel too.
    far, _ = plane(5.0)
    near, _ = plane(2.0, rows=[4], cols=[6])
    image, depth = render_point_cloud(
        np.concatenate([far, near]),
        np.array([BLUE] * len(far) + [RED], np.uint8), K, E, (H, W),
        point_size=3)
    assert (image[3:6, 5:8] == RED).all() and (depth[3:6, 5:8] == 2).all()
    assert (image[:3] == BLUE).all() and (image[6:] == BLUE).all()


def test_points_behind_the_camera_or_outside_are_not_drawn():
    points = np.array([[0.0, 0.0, -5.0],  # behind, would hit the centre
                       [100.0, 0.0, 5.0],  # far right of the picture
                       [0.0, 0.0, 0.0]])  # at the camera centre
    image, depth = render_point_cloud(points, None, K, E, (H, W),
                                      background=(7, 8, 9))
    assert (image == (7, 8, 9)).all() and (depth == 0).all()
    image, _ = render_point_cloud(np.zeros((0, 3)), None, K, E, (H, W))
    assert (image == WHITE).all()
    with pytest.raises(ValueError, match='colors: expected'):
        render_point_cloud(points, np.zeros((2, 3), np.uint8), K, E, (H, W))
    with pytest.raises(ValueError, match='point_size'):
        render_point_cloud(points, None, K, E, (H, W), point_size=0)


def test_uncoloured_clouds_are_shaded_light_near_dark_far():
    near, _ = plane(3.0, rows=[1], cols=[1])
    far, _ = plane(6.0, rows=[5], cols=[8])
    image, _ = render_point_cloud(np.concatenate([near, far]), None, K, E,
                                  (H, W), point_size=1)
    assert image[1, 1, 0] > image[5, 8, 0] and image[5, 8, 0] > 0
    assert (image[1, 1] == image[1, 1, 0]).all()  # grey


def test_orbit_camera_frames_the_cloud_with_up_up():
    rng = np.random.default_rng(0)
    centre = np.array([10.0, -20.0, 30.0])
    radius = 50.0
    direction = rng.normal(size=(500, 3))
    sphere = centre + radius * direction / np.linalg.norm(
        direction, axis=1, keepdims=True)
    for up, up_vector in (('z', (0, 0, 1)), ('-y', (0, -1, 0))):
        K_, E_ = orbit_camera(centre, radius, (60, 80), up=up)
        uv, z = project_points(np.stack([centre,
                                         centre + 20 * np.array(up_vector)]),
                               K_, E_)
        np.testing.assert_allclose(uv[0], [39.5, 29.5], atol=1e-9)
        assert uv[1, 1] < uv[0, 1] - 1  # up is up in the picture
        assert abs(uv[1, 0] - uv[0, 0]) < 1e-6
        uv, z = project_points(sphere, K_, E_)
        assert (z > 0).all()
        assert (uv >= 0).all() and (uv[:, 0] <= 79).all() and (
            uv[:, 1] <= 59).all()
    # The camera's side: azimuth -90 is -y for up z, -z for up -y (the
    # fronts of Shapes-MVS and DTU), raised by the elevation.
    for up, front, up_vector in (('z', (0, -1, 0), (0, 0, 1)),
                                 ('-y', (0, 0, -1), (0, -1, 0))):
        _, E_ = orbit_camera(centre, radius, (60, 80), up=up, azimuth=-90,
                             elevation=30)
        position = -E_[:3, :3].T @ E_[:3, 3]
        offset = (position - centre) / np.linalg.norm(position - centre)
        expected = np.cos(np.pi / 6) * np.array(front) + np.sin(
            np.pi / 6) * np.array(up_vector)
        np.testing.assert_allclose(offset, expected, atol=1e-9)
    with pytest.raises(ValueError, match='up'):
        orbit_camera(centre, radius, (60, 80), up='w')
    with pytest.raises(ValueError, match='elevation'):
        orbit_camera(centre, radius, (60, 80), elevation=90)


def test_cloud_centre_and_radius_ignore_a_few_strays():
    points, _ = plane(5.0)
    points = np.concatenate([points, [[1e6, 1e6, 1e6]]])
    centre, radius = cloud_centre_and_radius(points)
    assert np.abs(centre - [0, 0, 5]).max() < 0.5 and radius < 5
    with pytest.raises(ValueError, match='no finite point'):
        cloud_centre_and_radius(np.full((2, 3), np.nan))


def test_side_by_side():
    a = np.zeros((4, 3, 3), np.uint8)
    b = np.full((4, 5, 3), 9, np.uint8)
    both = side_by_side([a, b], gap=2)
    assert both.shape == (4, 10, 3)
    assert (both[:, 3:5] == 255).all() and (both[:, 5:] == 9).all()
    with pytest.raises(ValueError, match='one height'):
        side_by_side([a, b[:3]])


@pytest.fixture(scope='module')
def render_tool():
    return load_tool('mvs/render_point_cloud.py')


def test_render_tool_writes_the_picture_and_the_ground_truth_beside(
        tmp_path, render_tool, capsys):
    points, (rows, cols) = plane(5.0)
    colors = np.where((cols < W // 2)[:, None], RED, BLUE).astype(np.uint8)
    pred, gt = str(tmp_path / 'pred.ply'), str(tmp_path / 'gt.ply')
    write_point_cloud(pred, points, colors)
    write_point_cloud(gt, points)  # no colours: shaded grey
    cam = str(tmp_path / 'cam.txt')
    write_cam_txt(cam, MVSCamera(extrinsic=E, intrinsic=K, depth_min=1.0,
                                 depth_interval=0.1))

    out = str(tmp_path / 'picture.png')
    # The cam.txt camera: the prediction lands pixel for pixel; the
    # picture's size is twice the principal point, rounded (11 x 7).
    assert render_tool.main([pred, '--out', out, '--camera', cam,
                             '--point-size', '1']) == 0
    picture = cv2.imread(out)[..., ::-1]
    assert picture.shape == (7, 11, 3)
    assert (picture[:, :W // 2] == RED).all()
    assert (picture[:, W // 2:] == BLUE).all()
    assert '-> ' + out in capsys.readouterr().out

    out = str(tmp_path / 'side_by_side.png')
    assert render_tool.main([pred, '--gt', gt, '--out', out, '--size', '30',
                             '40']) == 0
    picture = cv2.imread(out)[..., ::-1]
    assert picture.shape == (30, 2 * 40 + 4, 3)
    left, right = picture[:, :40], picture[:, 44:]
    assert (left == RED).all(axis=-1).any() and (
        left == BLUE).all(axis=-1).any()
    drawn = ~(right == WHITE).all(axis=-1)
    assert drawn.sum() > 100
    assert (right[drawn][:, 0] == right[drawn][:, 2]).all()  # grey


def test_render_tool_errors(tmp_path, render_tool, capsys):
    out = str(tmp_path / 'x.png')
    assert render_tool.main([str(tmp_path / 'missing.ply'), '--out',
                             out]) == 1
    assert 'missing.ply' in capsys.readouterr().err
    pred = str(tmp_path / 'pred.ply')
    write_point_cloud(pred, plane(5.0)[0])
    assert render_tool.main([pred, '--out', out, '--up', 'w']) == 1
    assert "up: 'w'" in capsys.readouterr().err
    assert not (tmp_path / 'x.png').exists()
