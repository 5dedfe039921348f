"""Pseudo depth labels (:mod:`mmext.mvs.pseudo_depth`) on the tiny
Shapes-MVS scans: each stage against the scenes' ground truth, a round's
files, resume, two ranks, and the errors of bad input.

The "network" is an oracle that returns the ground-truth depth of the
reference image it is given (looked up by the image's bytes), so every
stage after prediction is checked against known geometry.
"""
import hashlib
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree
from torch import nn

from mmext.datasets import DTUMVSDataset
from mmext.datasets.dtu_io import DTULayout, MVSCamera, read_pfm
from mmext.mvs import fuse_scan
from mmext.mvs.fusion import ViewPrediction
from mmext.mvs.pseudo_depth import (PseudoLabelSettings, adjust_camera,
                                    local_texture, mask_untextured,
                                    check_round_dir, label_scan,
                                    make_pseudo_depth, process_scan)
from mmext.mvs.self_training import build_render_target
from mmext.testing.distributed import run_distributed
from mmext.utils.optional import require_package

SETTINGS = PseudoLabelSettings(poisson_depth=7, min_points=500)


def _key(image: torch.Tensor) -> str:
    return hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest()


class OracleMVS(nn.Module):
    """Returns the ground truth of the reference image it sees (confidence
    1); counts its calls."""

    def __init__(self, dataset: DTUMVSDataset) -> None:
        super().__init__()
        self.depths = {}
        for index in range(len(dataset)):
            item = dataset[index]
            self.depths[_key(item['imgs'][0])] = item['depths'][0]
        self.calls = 0

    def forward(self, imgs, intrinsics, extrinsics, depth_min, depth_max):
        self.calls += 1
        depth = self.depths[_key(imgs[0, 0])][None]
        return dict(depths=[depth], confidence=torch.ones_like(depth))


def source_dataset(root: str) -> DTUMVSDataset:
    """The tiny train root under light 3 as the labelling input."""
    return DTUMVSDataset(osp.join(root, 'train'), split='train', nsrc=4,
                         num_levels=1, lights=(3, ), with_depth=True)


def target_of(root: str, dataset) -> object:
    return build_render_target(
        dict(data_root=osp.join(root, 'train'), cameras='train_root',
             with_gt=True), dataset)


def gt_views(dataset: DTUMVSDataset, scan: str) -> dict:
    views = {}
    for index in range(len(dataset)):
        item = dataset[index]
        if item['meta']['scan'] != scan:
            continue
        depth = item['depths'][0].numpy()
        views[item['meta']['view']] = ViewPrediction(
            depth=depth, confidence=np.ones_like(depth),
            image=(item['imgs'][0].permute(1, 2, 0).numpy() * 255).astype(
                np.uint8),
            intrinsic=item['intrinsics'][0].double().numpy(),
            extrinsic=item['extrinsics'][0].double().numpy())
    return views


@pytest.fixture(scope='module')
def tiny(shapes_mvs_tiny):
    dataset = source_dataset(shapes_mvs_tiny)
    return shapes_mvs_tiny, dataset, target_of(shapes_mvs_tiny, dataset)


def scene_mesh(root: str, scan_index: int) -> trimesh.Trimesh:
    from mmext.datasets.shapes.seeding import stream_rng
    from mmext.datasets.shapes_mvs.presets import get_preset
    from mmext.datasets.shapes_mvs.scene import random_scene
    return random_scene(get_preset('tiny'),
                        stream_rng(0, 'mvs/scene/train', scan_index)).mesh


def test_fused_points_lie_on_the_true_surface(tiny):
    root, dataset, _ = tiny
    views = gt_views(dataset, 'scan1')
    noisy = {
        v: ViewPrediction(p.depth * (1 + 0.002 * np.random.default_rng(v)
                                     .standard_normal(p.depth.shape)),
                          p.confidence, p.image, p.intrinsic, p.extrinsic)
        for v, p in views.items()
    }
    points, _ = fuse_scan(noisy, dataset.pairs,
                          **SETTINGS.fusion_kwargs())
    assert len(points) > 1000
    # distance to the scene's surface, sampled every 0.3 mm or so
    surface, _ = trimesh.sample.sample_surface(scene_mesh(root, 0), 2_000_000,
                                               seed=0)
    distance, _ = cKDTree(surface).query(points)
    # 0.2 % depth noise is about 1.4 mm; averaging agreeing views shrinks it
    print(f'distance to the surface: median {np.median(distance):.2f}, '
          f'95 % {np.quantile(distance, 0.95):.2f} mm')
    # Measured: median 0.27 mm, 95 % 0.67 mm.
    assert np.median(distance) < 0.6
    assert np.quantile(distance, 0.95) < 1.5


def test_poisson_labels_reproduce_the_ground_truth(tiny):
    _, dataset, target = tiny
    result = label_scan(gt_views(dataset, 'scan1'), dataset.pairs, target,
                        SETTINGS)
    assert result is not None and len(result['faces']) > 100
    layout = DTULayout(target.gt_root)
    errors, observed, labelled = [], 0, 0
    for view, depth in result['depths'].items():
        assert depth.shape == target.size and depth.dtype == np.float32
        gt = read_pfm(layout.depth_file('scan1', view))
        both = (depth > 0) & (gt > 0)
        errors.append(np.abs(depth[both] - gt[both]))
        observed += int((gt > 0).sum())
        labelled += int(both.sum())
    errors = np.concatenate(errors)
    print(f'labels cover {labelled / observed:.3f} of the ground truth, '
          f'median error {np.median(errors):.2f} mm')
    # Measured: 96.5 % of the ground truth labelled, median error 0.07 mm.
    assert labelled > 0.9 * observed
    depth_range = target.depth_max - target.depth_min
    assert np.median(errors) < 0.001 * depth_range
    assert np.mean(errors < 0.01 * depth_range) > 0.9


def test_a_scan_with_too_few_points_writes_nothing(tiny, tmp_path):
    _, dataset, target = tiny
    few = PseudoLabelSettings(poisson_depth=7, min_points=10**7)
    with pytest.warns(UserWarning, match='scan1 keeps fewer than min_points'):
        summary = process_scan('scan1', gt_views(dataset, 'scan1'),
                               dataset.pairs, target, few, str(tmp_path))
    assert summary['skipped']
    assert not osp.exists(osp.join(tmp_path, 'Depths'))
    assert not osp.exists(osp.join(tmp_path, 'points'))


def run_round(dataset, target, round_dir, model=None, **kwargs):
    model = model or OracleMVS(dataset)
    return make_pseudo_depth(model, dataset, target, str(round_dir),
                             SETTINGS, progress=False, **kwargs), model


def tree_digest(root) -> dict:
    digests = {}
    for folder in ('Depths', ):
        for base, _, files in os.walk(osp.join(root, folder)):
            for name in files:
                path = osp.join(base, name)
                with open(path, 'rb') as handle:
                    digests[osp.relpath(path, root)] = hashlib.sha1(
                        handle.read()).hexdigest()
    return digests


def test_a_round_writes_labels_the_dataset_reads(tiny, tmp_path):
    root, dataset, target = tiny
    summary, model = run_round(dataset, target, tmp_path / 'round1')
    assert model.calls == len(dataset)
    assert summary['skipped'] == []
    assert 0.3 < summary['coverage'] <= 1
    assert summary['accuracy']['gt_coverage'] > 0.8
    assert summary['accuracy']['within_1pct_range'] > 0.85
    assert 0 <= summary['accuracy']['without_gt'] < 0.1
    with open(tmp_path / 'round1' / 'summary.json') as handle:
        assert json.load(handle)['coverage'] == summary['coverage']
    for scan in target.scans:
        assert osp.isfile(tmp_path / 'round1' / 'meshes' / f'{scan}.ply')
    train = DTUMVSDataset(osp.join(root, 'train'), nsrc=2, num_levels=2,
                          lights=(3, ), depth_root=str(tmp_path / 'round1'))
    item = train[0]
    label = read_pfm(tmp_path / 'round1' / 'Depths' / 'scan1_train' /
                     'depth_map_0000.pfm')
    np.testing.assert_array_equal(item['depths'][0].numpy(), label)
    # a finished round is never overwritten
    with pytest.raises(FileExistsError, match='never overwritten'):
        run_round(dataset, target, tmp_path / 'round1')


class StopAfterFirstScan(OracleMVS):
    """Fails on the first view of the second scan, as a stopped run."""

    def forward(self, imgs, *args):
        if self.calls == len(self.depths) // 2:
            raise KeyboardInterrupt
        return super().forward(imgs, *args)


def test_a_stopped_round_resumes_without_redoing_scans(tiny, tmp_path):
    _, dataset, target = tiny
    round_dir = tmp_path / 'round1'
    with pytest.raises(KeyboardInterrupt):
        run_round(dataset, target, round_dir,
                  model=StopAfterFirstScan(dataset))
    assert osp.isfile(round_dir / 'scans' / 'scan1.json')
    assert not osp.exists(round_dir / 'scans' / 'scan2.json')
    first = tree_digest(round_dir)
    mtime = os.stat(round_dir / 'Depths' / 'scan1_train').st_mtime_ns
    summary, model = run_round(dataset, target, round_dir)
    assert model.calls == len(dataset) // 2  # scan2's views only
    assert os.stat(round_dir / 'Depths' /
                   'scan1_train').st_mtime_ns == mtime
    assert {k: v for k, v in tree_digest(round_dir).items() if k in first} \
        == first
    fresh, _ = run_round(dataset, target, tmp_path / 'fresh')
    assert tree_digest(round_dir) == tree_digest(tmp_path / 'fresh')
    assert summary['coverage'] == fresh['coverage']


def test_a_round_of_other_data_is_refused(tiny, tmp_path):
    _, dataset, target = tiny
    run_round(dataset, target, tmp_path / 'round1')
    os.remove(tmp_path / 'round1' / 'summary.json')  # as if unfinished
    meta = dict(target.meta(), size=[64, 80])
    with pytest.raises(ValueError, match='size differ'):
        check_round_dir(str(tmp_path / 'round1'), meta)


def _label_on_rank(rank, world_size, root, round_dir):
    dataset = source_dataset(root)
    target = target_of(root, dataset)
    summary, model = run_round(dataset, target, round_dir, rank=rank,
                               world_size=world_size)
    return model.calls, summary is not None


def test_two_ranks_split_the_scans_and_write_the_same_files(tiny, tmp_path):
    root, dataset, target = tiny
    results = run_distributed(_label_on_rank, world_size=2,
                              args=(root, str(tmp_path / 'ddp')),
                              timeout=300.0)
    # each rank ran the network on its own scan only
    assert [calls for calls, _ in results] == [len(dataset) // 2] * 2
    assert [has for _, has in results] == [True, False]
    run_round(dataset, target, tmp_path / 'single')
    assert tree_digest(tmp_path / 'ddp') == tree_digest(tmp_path / 'single')
    with open(tmp_path / 'ddp' / 'summary.json') as a, \
            open(tmp_path / 'single' / 'summary.json') as b:
        assert json.load(a)['scans'] == json.load(b)['scans']


def test_adjusted_cameras_follow_the_reference_crop():
    intrinsic = np.array([[2892.3, 0, 823.2], [0, 2883.2, 619.1],
                          [0, 0, 1]])
    camera = MVSCamera(np.eye(4), intrinsic, 425.0, 2.5)
    adjusted = adjust_camera(camera, 0.125, (-20.0, -11.0))
    # 1600x1200 halved, cropped by 80 / 44 pixels, quartered: 160x128
    np.testing.assert_allclose(
        adjusted.intrinsic,
        [[2892.3 / 8, 0, (823.2 / 2 - 80) / 4],
         [0, 2883.2 / 8, (619.1 / 2 - 44) / 4], [0, 0, 1]])
    np.testing.assert_array_equal(camera.intrinsic, intrinsic)  # unchanged


def test_a_missing_optional_package_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pymeshlab', None)
    with pytest.raises(ImportError, match='pip install pymeshlab'):
        require_package('pymeshlab', 'Screened Poisson')
    from mmext.mvs.surface import screened_poisson
    with pytest.raises(ImportError, match='`pymeshlab`.*pip install'):
        screened_poisson(np.zeros((10, 3)), np.ones((10, 3)))


def _unit_sphere(count: int = 3000) -> np.ndarray:
    points = np.random.default_rng(0).normal(size=(count, 3))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_poisson_threads_are_this_rank_s_share_of_the_cpus(monkeypatch):
    """pymeshlab's default is the machine's hardware concurrency: two ranks
    on a container's share of a large host then oversubscribe its cores and
    each reconstruction slows down by orders of magnitude."""
    pymeshlab = require_package('pymeshlab', 'Screened Poisson')
    from mmext.mvs import surface
    asked = []
    reconstruct = pymeshlab.MeshSet.\
        generate_surface_reconstruction_screened_poisson

    def recording(self, **kwargs):
        asked.append(kwargs['threads'])
        return reconstruct(self, **kwargs)

    monkeypatch.setattr(pymeshlab.MeshSet,
                        'generate_surface_reconstruction_screened_poisson',
                        recording)
    monkeypatch.setattr('mmext.utils.cpus.available_cpus', lambda: 6)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    sphere = _unit_sphere()
    vertices, faces, _ = surface.screened_poisson(sphere, sphere, depth=5)
    surface.screened_poisson(sphere, sphere, depth=5, threads=1)
    assert asked == [3, 1]
    radii = np.linalg.norm(vertices, axis=1)
    assert len(faces) > 100 and abs(np.median(radii) - 1) < 0.05


def test_untextured_pixels_leave_the_fusion():
    image = np.zeros((12, 16, 3), np.uint8)
    image[:, 8:] = (np.indices((12, 8)).sum(0) % 2 * 255)[..., None]
    texture = local_texture(image, 3)
    assert (texture[:, :6] == 0).all()  # blank: no variation
    assert (texture[:, 9:] > 0.4).all()  # a checkerboard: std 0.5
    view = ViewPrediction(np.full((12, 16), 700.0), np.ones((12, 16)),
                          image, np.eye(3), np.eye(4))
    masked = mask_untextured(view, 0.01, 3)
    assert (masked.confidence[:, :6] == 0).all()
    assert (masked.confidence[:, 9:] == 1).all()
    np.testing.assert_array_equal(masked.depth, view.depth)
