"""Tests of tools/mvs/eval_point_clouds.py and tools/mvs/fuse_depths.py.

The evaluation runs through ``main(argv)`` on tiny PLY files in a DTU-like
layout, and through a subprocess as users run it; the fusion tool's
``run`` gets the perfect plane "network" and data set of ``conftest.py``
(building a trained CVP-MVSNet is the model's tests' business), and its
output is then evaluated against the plane.
"""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmext.evaluation import point_cloud_metrics
from mmext.mvs import read_point_cloud, write_point_cloud
from mmext.testing.mvs_scene import NORMAL
from mmext.testing.tools import REPO, load_tool


@pytest.fixture(scope='module')
def eval_tool():
    return load_tool('mvs/eval_point_clouds.py')


@pytest.fixture(scope='module')
def fuse_tool():
    return load_tool('mvs/fuse_depths.py')


def _grid(step=0.07, size=30):
    x, y = np.meshgrid(np.arange(size) * step, np.arange(size) * step)
    return np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1)


def _layout(tmp_path, shifts=None, meta=None):
    """``pred/cvpmvsnetNNN_l3.ply`` shifted by ``shifts[N]`` along z from
    ``data/Points/stl/stlNNN_total.ply`` (a grid)."""
    shifts = shifts or {1: 0.5, 12: 1.0}
    pred, data = tmp_path / 'pred', tmp_path / 'data'
    gt = _grid()
    for number, shift in shifts.items():
        write_point_cloud(str(data / 'Points' / 'stl' /
                              f'stl{number:03d}_total.ply'), gt)
        colors = np.zeros((len(gt), 3), np.uint8)
        write_point_cloud(str(pred / f'cvpmvsnet{number:03d}_l3.ply'),
                          gt + [0, 0, shift], colors)
    (pred / 'notes.txt').write_text('not a cloud')
    if meta is not None:
        (data / 'meta.json').write_text(json.dumps(meta))
    return str(pred), str(data)


def test_eval_point_clouds(tmp_path, eval_tool, capsys):
    meta = dict(scans=dict(scan1=dict(extent=10.0),
                           scan12=dict(extent=20.0)))
    pred, data = _layout(tmp_path, meta=meta)
    out = str(tmp_path / 'results.json')
    assert eval_tool.main([pred, data, '--out', out, '--workers', '1']) == 0
    printed = capsys.readouterr().out
    assert 'scan1 ' in printed and 'scan12' in printed and 'mean' in printed
    assert 'acc/ext' in printed
    results = json.load(open(out))
    for number, shift in ((1, 0.5), (12, 1.0)):
        expected = point_cloud_metrics(
            read_point_cloud(osp.join(pred,
                                      f'cvpmvsnet{number:03d}_l3.ply'))[0],
            read_point_cloud(osp.join(
                data, 'Points', 'stl', f'stl{number:03d}_total.ply'))[0])
        got = results['scans'][f'scan{number}']
        for key, value in expected.items():
            assert got[key] == pytest.approx(value)
        assert got['accuracy'] == pytest.approx(shift, rel=1e-6)
    assert results['mean']['overall'] == pytest.approx(0.75, rel=1e-6)
    assert results['scans']['scan12']['accuracy_rel'] == \
        pytest.approx(1.0 / 20)
    assert results['mean']['completeness_rel'] == \
        pytest.approx((0.05 + 0.05) / 2, rel=1e-6)
    assert results['settings'] == dict(method='cvpmvsnet', min_spacing=0.2,
                                       outlier_cut=20.0, seed=0)
    # The results file is not replaced without --overwrite.
    assert eval_tool.main([pred, data, '--out', out]) == 1
    assert '--overwrite' in capsys.readouterr().err
    assert eval_tool.main([pred, data, '--out', out, '--overwrite',
                           '--outlier-cut', '0.7']) == 0
    cut = json.load(open(out))
    assert np.isnan(cut['scans']['scan12']['accuracy'])  # 1.0 >= 0.7


def test_extents_from_a_shapes_mvs_output(tmp_path, eval_tool):
    # A Shapes-MVS output: meta.json beside the test root, per_scan extents.
    pred, data = _layout(tmp_path, shifts={3: 0.25})
    meta = dict(generator='x', per_scan=dict(scan3=dict(extent_mm=5.0)))
    (tmp_path / 'meta.json').write_text(json.dumps(meta))
    assert eval_tool.read_extents(data, None) == {'scan3': 5.0}
    out = str(tmp_path / 'r.json')
    assert eval_tool.main([pred, data, '--out', out]) == 0
    assert json.load(open(out))['scans']['scan3']['overall_rel'] == \
        pytest.approx(0.05, rel=1e-6)
    with pytest.raises(FileNotFoundError, match='--meta'):
        eval_tool.read_extents(data, str(tmp_path / 'none.json'))


def test_eval_errors_name_the_file(tmp_path, eval_tool, capsys):
    pred, data = _layout(tmp_path)
    assert eval_tool.main([pred, str(tmp_path / 'elsewhere')]) == 1
    assert 'stl001_total.ply' in capsys.readouterr().err
    assert eval_tool.main([data, data]) == 1
    assert 'no cvpmvsnetNNN_l3.ply' in capsys.readouterr().err
    assert eval_tool.main([pred, data, '--method', 'other']) == 1
    empty = tmp_path / 'empty'
    write_point_cloud(str(empty / 'cvpmvsnet001_l3.ply'), np.zeros((0, 3)))
    assert eval_tool.main([str(empty), data]) == 1
    err = capsys.readouterr().err
    assert 'cvpmvsnet001_l3.ply' in err and 'pred_points' in err


def test_eval_tool_runs_as_a_script(tmp_path):
    pred, data = _layout(tmp_path)
    out = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'mvs',
                                  'eval_point_clouds.py'), pred, data],
        capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    mean = out.stdout.strip().splitlines()[-1].split()
    assert mean[0] == 'mean' and float(mean[-1]) == pytest.approx(0.75)


def test_fuse_depths_run(tmp_path, fuse_tool, eval_tool, plane_dataset,
                         plain_plane_model, capsys):
    dataset = plane_dataset(scans=('scan1', 'scan12'))
    out = str(tmp_path / 'fused')
    args = fuse_tool.parse_args(
        ['cfg.py', 'ckpt.pth', '--out', out, '--no-progress',
         '--num-consistent', '2', '--relative-depth-error', '0.005'])
    assert fuse_tool.fusion_kwargs(args) == dict(
        confidence_threshold=0.8, num_consistent=2,
        max_reprojection_error=1.0, max_relative_depth_error=0.005,
        max_sources=10)
    summaries = fuse_tool.run(plain_plane_model, dataset, args)
    printed = capsys.readouterr().out
    assert [s['scan'] for s in summaries] == ['scan1', 'scan12']
    assert 'scan12: ' in printed and '% of pixels kept' in printed
    for name in ('cvpmvsnet001_l3.ply', 'cvpmvsnet012_l3.ply'):
        points, _ = read_point_cloud(osp.join(out, name))
        assert len(points) > 1000
        assert np.abs(points.astype(float) @ NORMAL).max() < 0.05
    assert osp.isfile(osp.join(out, 'depths', 'scan12', '00000004.pfm'))
    # Refused before predicting anything; the clouds survive.
    before = open(osp.join(out, 'cvpmvsnet001_l3.ply'), 'rb').read()
    calls = len(plain_plane_model.calls)
    with pytest.raises(FileExistsError, match='--overwrite'):
        fuse_tool.run(plain_plane_model, dataset, args)
    assert len(plain_plane_model.calls) == calls
    assert open(osp.join(out, 'cvpmvsnet001_l3.ply'), 'rb').read() == before
    args.overwrite, args.no_depths = True, True
    fuse_tool.run(plain_plane_model, dataset, args)

    # The fused cloud against a 1.1 mm grid on the plane, wider than every
    # view: each fused point is within 1.1 / sqrt(2) of a grid point.
    data = tmp_path / 'data'
    steps = np.arange(-350, 350, 1.1)
    x, y = np.meshgrid(steps, steps)
    xy = np.stack([x.ravel(), y.ravel()], 1)
    z = -(xy @ NORMAL[:2]) / NORMAL[2]
    for number in (1, 12):
        write_point_cloud(str(data / 'Points' / 'stl' /
                              f'stl{number:03d}_total.ply'),
                          np.column_stack([xy, z]))
    results = str(tmp_path / 'results.json')
    assert eval_tool.main([out, str(data), '--out', results,
                           '--min-spacing', '1.0']) == 0
    scan = json.load(open(results))['scans']['scan12']
    assert scan['num_pred_used'] == scan['num_pred']
    assert scan['accuracy'] < 1.1 / np.sqrt(2)


def test_fuse_depths_reports_a_missing_config(tmp_path, fuse_tool, capsys):
    out = str(tmp_path / 'out')
    code = fuse_tool.main([str(tmp_path / 'missing.py'), 'ckpt.pth',
                           '--out', out, '--device', 'cpu'])
    assert code == 1
    assert 'missing.py' in capsys.readouterr().err
    assert not osp.exists(out)
