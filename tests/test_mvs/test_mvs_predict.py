"""Tests of mmext.mvs.predict: running a network on every view of a data
set and fusing each scan into DTU-named files (a perfect plane "network"
and a data set in DTUMVSDataset's item format, ``conftest.py``)."""
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmext.datasets.dtu_io import read_pfm
from mmext.mvs import (check_outputs, fuse_and_save, fused_ply_name,
                       predict_views, read_point_cloud, view_prediction)
from mmext.testing.mvs_scene import HEIGHT, NORMAL, WIDTH, pixel_image


@pytest.mark.parametrize('kind', ['plain', 'base'])
def test_predict_views(kind, plane_dataset, plain_plane_model,
                       base_plane_model):
    model = plain_plane_model if kind == 'plain' else base_plane_model
    dataset = plane_dataset()
    views = predict_views(model, dataset, progress=False)
    assert list(views) == ['scan1', 'scan12']
    assert sorted(views['scan1']) == [0, 1, 2, 3, 4]
    assert not model.training
    assert model.calls == [False] * 10  # once per item, without gradients
    for view, prediction in views['scan12'].items():
        item = dataset[5 + view]
        np.testing.assert_array_equal(prediction.image, pixel_image(view))
        np.testing.assert_array_equal(prediction.intrinsic,
                                      item['intrinsics'][0].double())
        np.testing.assert_array_equal(prediction.extrinsic,
                                      item['extrinsics'][0].double())
        assert prediction.depth.shape == (HEIGHT, WIDTH)
        assert (prediction.confidence == 1).all()


def test_repeated_views_run_once_and_scans_must_be_consecutive(
        plane_dataset, plain_plane_model):
    order = [('scan1', 0), ('scan1', 0), ('scan1', 1), ('scan2', 0)]
    with pytest.warns(UserWarning, match='1 items repeat'):
        views = predict_views(plain_plane_model,
                              plane_dataset(order=order), progress=False)
    assert {k: sorted(v) for k, v in views.items()} == \
        {'scan1': [0, 1], 'scan2': [0]}
    assert len(plain_plane_model.calls) == 3
    order = [('scan1', 0), ('scan2', 0), ('scan1', 1)]
    with pytest.raises(ValueError, match="'scan1'.*consecutive"):
        predict_views(plain_plane_model, plane_dataset(order=order),
                      progress=False)


def test_depth_must_have_the_image_size(plane_dataset):
    item = plane_dataset()[0]
    depth = torch.ones(1, HEIGHT // 2, WIDTH // 2)
    with pytest.raises(ValueError, match='full resolution'):
        view_prediction(item, dict(depths=[depth], confidence=depth))


def test_fused_ply_name():
    assert fused_ply_name('scan12') == 'cvpmvsnet012_l3.ply'
    assert fused_ply_name('scan118', 'mvsnet') == 'mvsnet118_l3.ply'
    with pytest.raises(ValueError, match='scan'):
        fused_ply_name('12')


def test_fuse_and_save(tmp_path, plane_dataset, plain_plane_model):
    dataset = plane_dataset(scans=('scan4', ))
    views = predict_views(plain_plane_model, dataset, progress=False)
    out = str(tmp_path / 'out')
    summary = fuse_and_save('scan4', views['scan4'], dataset.pairs, out,
                            num_consistent=2)
    assert summary['file'] == osp.join(out, 'cvpmvsnet004_l3.ply')
    points, colors = read_point_cloud(summary['file'])
    assert summary['num_points'] == len(points) > 0.5 * 5 * HEIGHT * WIDTH
    assert summary['kept_fraction'] == len(points) / (5 * HEIGHT * WIDTH)
    assert np.abs(points.astype(float) @ NORMAL).max() < 0.05
    assert sorted(set(colors[:, 2].tolist())) == [0, 1, 2, 3, 4]
    for view in range(5):
        depth = read_pfm(osp.join(out, 'depths', 'scan4', f'{view:08d}.pfm'))
        np.testing.assert_array_equal(depth, views['scan4'][view].depth)
        confidence = read_pfm(
            osp.join(out, 'confidence', 'scan4', f'{view:08d}.pfm'))
        assert (confidence == 1).all()
    # A second run is refused before anything is replaced.
    before = open(summary['file'], 'rb').read()
    with pytest.raises(FileExistsError, match='--overwrite'):
        check_outputs(out, ['scan9', 'scan4'])
    check_outputs(out, ['scan9'])
    with pytest.raises(FileExistsError, match='cvpmvsnet004_l3.ply'):
        fuse_and_save('scan4', views['scan4'], dataset.pairs, out,
                      num_consistent=5)
    assert open(summary['file'], 'rb').read() == before
    fewer = fuse_and_save('scan4', views['scan4'], dataset.pairs, out,
                          overwrite=True, save_depths=False,
                          num_consistent=4, max_relative_depth_error=1e-5)
    assert fewer['num_points'] < summary['num_points']
    assert len(read_point_cloud(fewer['file'])[0]) == fewer['num_points']
    assert sorted(os.listdir(out)) == ['confidence', 'cvpmvsnet004_l3.ply',
                                       'depths']
