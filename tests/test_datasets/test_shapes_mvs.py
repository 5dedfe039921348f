"""Tests of Shapes-MVS (``mmext.datasets.shapes_mvs``, ``make_shapes_mvs.py``).

Every test uses the ``tiny`` preset; most read the shared output
(``shapes_mvs_tiny`` of ``tests/conftest.py``, seed 0, generated once). The
geometry tests check the generator against itself through the files only:
a depth map back-projected with its camera must land on the other views'
depth maps, and the colours there must agree.
"""
import dataclasses
import json
import os.path as osp
import shutil
from typing import Dict, Tuple

import cv2
import numpy as np
import pytest
from plyfile import PlyData
from scipy.spatial import cKDTree

from mmext.datasets import DTUMVSDataset, shapes_mvs
from mmext.datasets.dtu_io import (DTULayout, check_pairs, read_cam_txt,
                                   read_pair_txt, read_pfm, read_scan_list,
                                   scan_number)
from mmext.datasets.shapes.seeding import stream_rng
from mmext.datasets.shapes_mvs import generate as mvs_generate
from mmext.datasets.shapes_mvs.cameras import (camera_rig, intrinsic_matrix,
                                               optical_axis, select_pairs)
from mmext.datasets.shapes_mvs.render import SceneRenderer
from mmext.datasets.shapes_mvs.scene import random_scene
from mmext.mvs.geometry import (backproject_depth, camera_centre,
                                pixel_rays, project_points)
from mmext.mvs.ply import read_point_cloud
from mmext.testing.generators import (BAD_CLI_ARGUMENTS, check_argument_errors,
                                      check_cli_refuses, check_cli_reuse,
                                      check_cli_tiny,
                                      check_failed_runs_keep_output,
                                      check_reruns, interrupted, tree_hashes)
from mmext.testing.tools import load_tool

TINY = shapes_mvs.get_preset('tiny')
LIGHTS = range(7)
#: Bound on the median relative depth error between co-visible pixels.
MEDIAN_REL_ERROR = 5e-4


# ----------------------------------------------------------------- helpers
def back_project(depth: np.ndarray, camera) -> Tuple[np.ndarray, Tuple]:
    """World points of the valid (``> 0``) pixels of ``depth`` and their
    ``(rows, cols)``, row-major."""
    valid = depth > 0
    points = backproject_depth(depth, camera.intrinsic, camera.extrinsic)
    return points[valid], np.nonzero(valid)


def load_meta(root: str) -> Dict:
    with open(osp.join(root, 'meta.json'), encoding='utf-8') as f:
        return json.load(f)


def read_rgb(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert bgr is not None, path
    return bgr[..., ::-1].astype(np.float64)


def bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``image`` ``[H, W(, C)]`` at sub-pixel ``uv`` ``[N, 2]`` (inside)."""
    h, w = image.shape[:2]
    u0 = np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 2)
    v0 = np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 2)
    fu, fv = uv[:, 0] - u0, uv[:, 1] - v0
    if image.ndim == 3:
        fu, fv = fu[:, None], fv[:, None]
    return ((1 - fu) * (1 - fv) * image[v0, u0] +
            fu * (1 - fv) * image[v0, u0 + 1] +
            (1 - fu) * fv * image[v0 + 1, u0] +
            fu * fv * image[v0 + 1, u0 + 1])


def correspondences(depth_i: np.ndarray, cam_i, depth_j: np.ndarray,
                    cam_j) -> Tuple[np.ndarray, ...]:
    """Back-project view i's valid depth into view j.

    Returns:
        ``(rows, cols)`` of i's valid pixels, their ``uv`` in j, the
        projected depth ``z`` and the relative error against j's depth
        (bilinear), and a mask of the pixels that land inside j on four
        valid depth neighbours.
    """
    points, (rows, cols) = back_project(depth_i, cam_i)
    uv, z = project_points(points, cam_j.intrinsic, cam_j.extrinsic)
    h, w = depth_j.shape
    inside = ((uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0)
              & (uv[:, 1] <= h - 1) & (z > 0))
    uv = np.where(inside[:, None], uv, 0.0)
    u0 = np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 2)
    v0 = np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 2)
    neighbours = ((depth_j[v0, u0] > 0) & (depth_j[v0, u0 + 1] > 0)
                  & (depth_j[v0 + 1, u0] > 0) & (depth_j[v0 + 1, u0 + 1] > 0))
    rel = np.abs(bilinear(depth_j, uv) - z) / np.maximum(z, 1e-9)
    return rows, cols, uv, rel, inside & neighbours


def consistency(depth_i, cam_i, depth_j, cam_j) -> Tuple[float, float,
                                                         float]:
    """``(co-visible fraction, median relative error, fraction within
    1 %)``; co-visible: lands on valid depth in j within 5 % (occlusions
    differ by more)."""
    *_, rel, ok = correspondences(depth_i, cam_i, depth_j, cam_j)
    covisible = ok & (rel < 0.05)
    if not covisible.any():
        return 0.0, 1.0, 0.0
    return (covisible.mean(), float(np.median(rel[covisible])),
            float((rel[covisible] < 0.01).mean()))


def ray_length(depth: np.ndarray, camera) -> np.ndarray:
    """The distance from the camera centre instead of ``z`` (the classic
    mistake the consistency check must catch)."""
    rows, cols = np.mgrid[0:depth.shape[0], 0:depth.shape[1]]
    uv = np.stack([cols.ravel(), rows.ravel()], 1).astype(np.float64)
    _, directions = pixel_rays(camera.intrinsic, camera.extrinsic, uv)
    return depth * np.linalg.norm(directions, axis=1).reshape(depth.shape)


def view_pairs(layout: DTULayout, top: int = 2):
    pairs = read_pair_txt(layout.pair_file())
    return [(i, j) for i, sources in pairs.items()
            for j, _ in sources[:top]]


def layouts(root: str) -> Dict[str, DTULayout]:
    meta = load_meta(root)
    return {split: DTULayout(osp.join(root, sub))
            for split, sub in meta['roots'].items()}


# ------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_differs(shapes_mvs_tiny, tmp_path):
    changed = check_reruns(shapes_mvs.generate_shapes_mvs, shapes_mvs_tiny,
                           tmp_path)
    data = [k for k in tree_hashes(shapes_mvs_tiny)
            if k.endswith(('.png', '.pfm', '.ply', '_cam.txt'))]
    # every image, depth, cloud and camera differs
    assert set(data) <= set(changed)
    assert load_meta(str(tmp_path / 'other'))['seed'] == 1


def test_scene_streams_are_order_independent():
    first = random_scene(TINY, stream_rng(0, 'mvs/scene/train', 1))
    random_scene(TINY, stream_rng(0, 'mvs/scene/train', 0))
    second = random_scene(TINY, stream_rng(0, 'mvs/scene/train', 1))
    np.testing.assert_array_equal(first.mesh.vertices, second.mesh.vertices)
    assert [s.describe() for s in first.surfaces] == \
        [s.describe() for s in second.surfaces]


# ------------------------------------------------------------------ layout
def test_layout_has_every_file_the_reader_needs(shapes_mvs_tiny):
    meta = load_meta(shapes_mvs_tiny)
    roots = layouts(shapes_mvs_tiny)
    views = meta['num_views']
    assert views == TINY.num_views
    assert meta['sizes'] == dict(train=list(TINY.train_size),
                                 test=list(TINY.test_size))
    sizes = dict(train=TINY.train_size, test=TINY.test_size)
    for split, layout in roots.items():
        if split not in sizes:  # train_hires: its own test below
            continue
        scans = read_scan_list(layout.scan_list(split))
        assert scans == meta['scans'][split]
        pairs = read_pair_txt(layout.pair_file())
        check_pairs(pairs, views, layout.pair_file())
        assert list(pairs) == list(range(views))
        for ref, sources in pairs.items():
            assert len(sources) == min(10, views - 1)
            assert ref not in [src for src, _ in sources]
            scores = [score for _, score in sources]
            assert scores == sorted(scores, reverse=True)
        h, w = sizes[split]
        for view in range(views):
            cam = read_cam_txt(layout.test_cam_file(scans[0], view)
                               if split == 'test' else layout.cam_file(view))
            assert (cam.depth_min, cam.depth_interval) == (425.0, 2.5)
            # principal point at the centre of *this* root's images
            assert tuple(cam.intrinsic[:2, 2]) == (w / 2, h / 2)
        lights = LIGHTS if split == 'train' else [3]
        for scan in scans:
            for view in range(views):
                for light in lights:
                    image = read_rgb(layout.image(split, scan, view, light))
                    assert image.shape == (h, w, 3)
                depth = read_pfm(layout.depth_file(scan, view, split))
                assert depth.shape == (h, w) and depth.dtype == np.float32
            if split == 'test':
                number = scan_number(scan)
                ply = PlyData.read(layout.points_file(number))
                assert ply.header.startswith(
                    'ply\nformat binary_little_endian')
                dtype = ply['vertex'].data.dtype
                assert [dtype[n].str for n in 'xyz'] == ['<f4'] * 3
                assert meta['per_scan'][scan]['num_points'] == \
                    ply['vertex'].count > 100
    # train and test are different scenes; the roots share the poses
    assert not set(meta['scans']['train']) & set(meta['scans']['test'])
    for view in range(views):
        train = read_cam_txt(roots['train'].cam_file(view))
        test = read_cam_txt(roots['test'].cam_file(view))
        np.testing.assert_array_equal(train.extrinsic, test.extrinsic)
        np.testing.assert_allclose(test.intrinsic[:2],
                                   train.intrinsic[:2] * TINY.test_scale)
    for scan, entry in meta['per_scan'].items():
        assert 300 < entry['extent_mm'] < 700, scan  # ground diagonal ~510
        assert entry['objects']


def test_train_hires_root_holds_the_train_scans_at_test_size(
        shapes_mvs_tiny):
    meta = load_meta(shapes_mvs_tiny)
    roots = layouts(shapes_mvs_tiny)
    hires, train, test = roots['train_hires'], roots['train'], roots['test']
    # read as a test split, as the reference's pseudo-labelling root is
    assert read_scan_list(hires.scan_list('test')) == meta['scans']['train']
    assert read_pair_txt(hires.pair_file()) == read_pair_txt(
        test.pair_file())
    for view in range(meta['num_views']):
        cam, test_cam = (read_cam_txt(r.cam_file(view))
                         for r in (hires, test))
        np.testing.assert_array_equal(cam.intrinsic, test_cam.intrinsic)
        np.testing.assert_array_equal(cam.extrinsic, test_cam.extrinsic)
    scan = meta['scans']['train'][0]
    for view in range(meta['num_views']):
        high = read_rgb(hires.test_image(scan, view)).astype(np.float64)
        assert high.shape[:2] == TINY.test_size
        low = read_rgb(train.train_image(scan, view, 3)).astype(np.float64)
        # the same scene and light: 2x2 means of the high-resolution image
        # match the training image up to sampling
        blocks = high.reshape(low.shape[0], 2, low.shape[1], 2, 3).mean(
            axis=(1, 3))
        assert np.median(np.abs(blocks - low)) < 8
    assert not osp.exists(osp.join(hires.root, 'Depths'))
    dataset = DTUMVSDataset(hires.root, split='test', nsrc=2, num_levels=2)
    assert dataset.scans == meta['scans']['train']
    assert dataset[0]['imgs'].shape[-2:] == TINY.test_size


def test_dtu_dataset_reads_both_roots(shapes_mvs_tiny):
    from mmext.datasets.dtu_mvs import DTUMVSDataset
    roots = layouts(shapes_mvs_tiny)
    train = DTUMVSDataset(roots['train'].root, split='train', nsrc=2,
                          num_levels=2)
    assert len(train) == TINY.num_train_scans * TINY.num_views * 7
    item = train[0]
    assert tuple(item['imgs'].shape) == (3, 3) + TINY.train_size
    assert item['depth_min'] == 425.0 and item['depth_max'] == 1065.0
    depth = item['depths'][0].numpy()
    assert (depth > 0).mean() > 0.3
    assert depth[depth > 0].min() > item['depth_min']
    test = DTUMVSDataset(roots['test'].root, split='test',
                         nsrc=TINY.num_views - 1, num_levels=3,
                         with_depth=True)
    assert len(test) == TINY.num_test_scans * TINY.num_views
    item = test[0]
    assert tuple(item['imgs'].shape) == (TINY.num_views, 3) + TINY.test_size


# ---------------------------------------------------------------- geometry
def test_depth_range_contains_every_valid_depth(shapes_mvs_tiny):
    for split, layout in layouts(shapes_mvs_tiny).items():
        if split == 'train_hires':  # images only
            continue
        for scan in read_scan_list(layout.scan_list(split)):
            for view in range(TINY.num_views):
                cam = read_cam_txt(layout.cam_file(view))
                depth = read_pfm(layout.depth_file(scan, view, split))
                assert np.isfinite(depth).all() and (depth >= 0).all()
                valid = depth[depth > 0]
                # content and background (exactly 0) both present
                assert 0.2 < len(valid) / depth.size < 0.95
                assert valid.min() > cam.depth_min
                assert valid.max() < cam.depth_max()


def test_bad_geometry_is_refused_naming_the_fields():
    intrinsic = intrinsic_matrix(TINY.train_size, TINY.horizontal_fov)
    extrinsics = camera_rig(TINY, stream_rng(0, 'mvs/cameras'))
    near, far = shapes_mvs.check_depth_range(TINY, extrinsics, intrinsic)
    assert TINY.depth_min < near < far < TINY.depth_max
    close = dataclasses.replace(TINY, camera_distance=450.0)
    extrinsics = camera_rig(close, stream_rng(0, 'mvs/cameras'))
    with pytest.raises(ValueError, match='camera_distance'):
        shapes_mvs.check_depth_range(close, extrinsics, intrinsic)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_depth_maps_reproject_consistently(shapes_mvs_tiny, split):
    layout = layouts(shapes_mvs_tiny)[split]
    scan = read_scan_list(layout.scan_list(split))[0]
    cams = [read_cam_txt(layout.cam_file(v)) for v in range(TINY.num_views)]
    depths = [read_pfm(layout.depth_file(scan, v, split))
              for v in range(TINY.num_views)]
    for i, j in view_pairs(layout):
        covisible, median, within = consistency(depths[i], cams[i],
                                                depths[j], cams[j])
        # exact geometry: float32 depth and bilinear lookup only; the
        # bound is 0.05 % (a camera of a view 12 degrees away gives ~0.2 %)
        assert covisible > 0.6, (i, j, covisible)
        assert median < MEDIAN_REL_ERROR, (i, j, median)
        assert within > 0.9, (i, j, within)
    # The check catches a ray-length map among z maps, and wrong cameras.
    i, j = view_pairs(layout)[0]
    _, _, within = consistency(ray_length(depths[i], cams[i]), cams[i],
                               depths[j], cams[j])
    assert within < 0.5
    other = next(v for v in range(TINY.num_views) if v not in (i, j))
    covisible, median, within = consistency(depths[i], cams[i], depths[j],
                                            cams[other])
    assert covisible < 0.6 or median > MEDIAN_REL_ERROR or within < 0.9


def test_depth_back_projects_onto_the_mesh(shapes_mvs_tiny):
    layout = layouts(shapes_mvs_tiny)['train']
    scene = random_scene(TINY, stream_rng(0, 'mvs/scene/train', 0))
    renderer = SceneRenderer(scene)

    def on_mesh(depth, cam) -> np.ndarray:
        # a ray from the camera centre through the back-projected point
        # first hits the mesh at that point (parameter 1)
        points, _ = back_project(depth, cam)
        center = camera_centre(cam.extrinsic)
        _, param = renderer.cast(center, points - center)
        return np.abs(param - 1) < 1e-5

    for view in range(TINY.num_views):
        cam = read_cam_txt(layout.cam_file(view))
        depth = read_pfm(layout.depth_file('scan1', view))
        assert on_mesh(depth, cam).all(), view
    assert on_mesh(ray_length(depth, cam), cam).mean() < 0.2  # z, not range


@pytest.mark.parametrize('split', ['train', 'test'])
def test_views_agree_photometrically_under_one_light(shapes_mvs_tiny, split):
    layout = layouts(shapes_mvs_tiny)[split]
    scan = read_scan_list(layout.scan_list(split))[0]
    for i, j in view_pairs(layout):
        cam_i, cam_j = (read_cam_txt(layout.cam_file(v)) for v in (i, j))
        depth_i = read_pfm(layout.depth_file(scan, i, split))
        depth_j = read_pfm(layout.depth_file(scan, j, split))
        rows, cols, uv, rel, ok = correspondences(depth_i, cam_i, depth_j,
                                                  cam_j)
        good = ok & (rel < 0.01)
        image_i = read_rgb(layout.image(split, scan, i, 3))
        image_j = read_rgb(layout.image(split, scan, j, 3))
        colour_i = image_i[rows, cols][good]
        error = np.abs(colour_i - bilinear(image_j, uv[good])).mean()
        # a 3-pixel shift along the row: what a wrong match costs
        shifted = np.clip(uv[good] + (3.0, 0.0), 0,
                          (depth_j.shape[1] - 1, depth_j.shape[0] - 1))
        wrong = np.abs(colour_i - bilinear(image_j, shifted)).mean()
        contrast = image_i[depth_i > 0].std()
        assert contrast > 20  # textured
        assert error < 0.15 * contrast, (i, j, error, contrast)
        assert error < 0.25 * wrong, (i, j, error, wrong)


def test_lights_change_shading_not_geometry(shapes_mvs_tiny):
    layout = layouts(shapes_mvs_tiny)['train']
    images = [read_rgb(layout.train_image('scan1', 0, light))
              for light in LIGHTS]
    foreground = read_pfm(layout.depth_file('scan1', 0)) > 0
    for light in LIGHTS[1:]:
        change = np.abs(images[light] - images[0])
        assert change[foreground].mean() > 2.0, light
    for image in images:  # the background is black under every light
        interior = cv2.erode(foreground.astype(np.uint8), np.ones((3, 3)))
        background = cv2.dilate(foreground.astype(np.uint8),
                                np.ones((3, 3))) == 0
        assert background.any() and (image[background] == 0).all()
        assert image[interior > 0].mean() > 30


def test_points_lie_on_the_visible_surface(shapes_mvs_tiny):
    layout = layouts(shapes_mvs_tiny)['test']
    scan = read_scan_list(layout.scan_list('test'))[0]
    points, colors = read_point_cloud(layout.points_file(scan_number(scan)))
    points = points.astype(np.float64)
    assert colors is not None and len(points) == len(colors)
    # 1) near the back-projection of some high-resolution depth map
    cams = [read_cam_txt(layout.cam_file(v)) for v in range(TINY.num_views)]
    cloud = np.concatenate([
        back_project(read_pfm(layout.depth_file(scan, v, 'test')),
                     cams[v])[0]
        for v in range(TINY.num_views)])
    distance, _ = cKDTree(cloud).query(points)
    assert distance.max() < 0.01  # mm (float32 depth)
    # 2) on the mesh, seen from some camera: a ray from the camera centre
    # to the point hits first at the point (independent of the depth maps)
    scene = random_scene(TINY, stream_rng(0, 'mvs/scene/test', 0))
    renderer = SceneRenderer(scene)
    seen = np.zeros(len(points), bool)
    for cam in cams:
        center = camera_centre(cam.extrinsic)
        _, param = renderer.cast(center, points - center)
        seen |= np.abs(param - 1) < 1e-5
    assert seen.all(), f'{(~seen).sum()} points not on a visible surface'
    # 3) thinned: at most one point per spacing-sized voxel
    cells = np.floor(points / TINY.point_spacing).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(points)
    assert len(points) < 0.5 * len(cloud)


def test_pairs_prefer_small_nonzero_angles():
    preset = shapes_mvs.get_preset('demo')
    extrinsics = camera_rig(preset, stream_rng(0, 'mvs/cameras'))
    axes = np.stack([optical_axis(e) for e in extrinsics])
    angle = np.rad2deg(np.arccos(np.clip(axes @ axes.T, -1, 1)))
    pairs = select_pairs(extrinsics)
    assert len(pairs) == preset.num_views == 18
    for ref, sources in pairs.items():
        assert len(sources) == 10
        ids = [src for src, _ in sources]
        assert ref not in ids and len(set(ids)) == 10
        best = angle[ref, ids[0]]
        assert 4 < best < 25, (ref, best)
        # the best source is at least as close to the preferred angle as
        # any view left out
        left_out = [v for v in range(18) if v not in ids and v != ref]
        assert all(abs(angle[ref, v] - 12) >= abs(best - 12) - 1e-9
                   for v in left_out)


# ---------------------------------------------------------------------- CLI
@pytest.mark.parametrize('argv, field', BAD_CLI_ARGUMENTS)
def test_cli_bad_arguments_exit_2(argv, field, tmp_path, capsys):
    check_cli_refuses(load_tool('misc/make_shapes_mvs.py').main, argv, field,
                      tmp_path, capsys)


def test_cli_tiny_is_fast_torch_free_and_atomic(shapes_mvs_tiny, tmp_path):
    # target < 5 s; loose here because the machine is shared
    printed = check_cli_tiny('misc/make_shapes_mvs.py', shapes_mvs_tiny,
                             tmp_path, max_seconds=20)
    assert all('Shapes-MVS tiny (seed 0)' in text for text in printed)


def test_cli_reuse_keeps_current_output(shapes_mvs_tiny, tmp_path, capsys):
    out = shutil.copytree(shapes_mvs_tiny, str(tmp_path / 'out'))
    check_cli_reuse(load_tool('misc/make_shapes_mvs.py').main,
                    shapes_mvs.read_meta, out, capsys)


def test_failed_run_leaves_previous_output_intact(shapes_mvs_tiny, tmp_path,
                                                  monkeypatch):
    out = shutil.copytree(shapes_mvs_tiny, str(tmp_path / 'out'))
    monkeypatch.setattr(mvs_generate, 'write_point_cloud', interrupted)
    check_failed_runs_keep_output(shapes_mvs.generate_shapes_mvs, out)


def test_library_argument_errors_name_the_field(tmp_path):
    check_argument_errors(shapes_mvs.generate_shapes_mvs, tmp_path)
