"""Tests of mmext.DTUMVSDataset on tiny DTU-layout roots written with
mmext.datasets.dtu_io."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmext.datasets import DTUMVSDataset
from mmext.datasets.dtu_io import (DTULayout, MVSCamera, read_pfm,
                                   write_cam_txt, write_pair_txt, write_pfm,
                                   write_scan_list)
from mmext.mvs.geometry import look_at
from mmext.registry import DATASETS

NUM_VIEWS = 4
SCANS = ['scan1', 'scan4']
HEIGHT, WIDTH = 32, 40  # train images
TEST_HEIGHT = 36  # test images: 36x40, cropped to 32x40
FOCAL = 50.0


def circle_camera(view: int, num_views: int) -> MVSCamera:
    """A camera on a circle of radius 600 around the origin, looking at
    it (world-to-camera, the world's -y up in the image)."""
    angle = 2 * np.pi * view / num_views
    centre = np.array([600 * np.cos(angle), 100.0, 600 * np.sin(angle)])
    extrinsic = look_at(centre, up=(0.0, -1.0, 0.0))
    intrinsic = np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2],
                          [0, 0, 1]])
    return MVSCamera(extrinsic, intrinsic, 425.0 + view, 2.5)


def source_order(view: int):
    """Sources of ``view``, best first: not in id order on purpose."""
    others = [(view + k) % NUM_VIEWS for k in (2, 1, 3)]
    return [(src, 100.0 - i) for i, src in enumerate(others)]


def make_root(root: str, seed: int = 0) -> str:
    """A DTU root: 2 scans, 4 views, 7 train lights, test images, depths."""
    rng = np.random.default_rng(seed)
    layout = DTULayout(root)
    write_scan_list(layout.scan_list('train'), SCANS)
    write_scan_list(layout.scan_list('test'), SCANS[:1])
    write_pair_txt(layout.pair_file(),
                   {v: source_order(v)
                    for v in range(NUM_VIEWS)})
    for view in range(NUM_VIEWS):
        write_cam_txt(layout.cam_file(view), circle_camera(view, NUM_VIEWS))
    for scan in SCANS:
        for view in range(NUM_VIEWS):
            for light in range(7):
                path = layout.train_image(scan, view, light)
                os.makedirs(osp.dirname(path), exist_ok=True)
                cv2.imwrite(path,
                            rng.integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8))
            path = layout.test_image(scan, view)
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(
                path, rng.integers(0, 256, (TEST_HEIGHT, WIDTH, 3), np.uint8))
            depth = rng.uniform(425, 1000, (HEIGHT, WIDTH)).astype(np.float32)
            depth[rng.random((HEIGHT, WIDTH)) < 0.2] = 0  # invalid pixels
            write_pfm(layout.depth_file(scan, view), depth)
    # A pure red reference image (cv2 writes BGR).
    red = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    red[..., 2] = 255
    cv2.imwrite(layout.train_image('scan1', 0, 0), red)
    return root


@pytest.fixture(scope='module')
def dtu_root(tmp_path_factory):
    """A root for read-only tests; tests that change files take ``fresh_root``."""
    return make_root(str(tmp_path_factory.mktemp('dtu')))


@pytest.fixture
def fresh_root(tmp_path):
    return make_root(str(tmp_path / 'dtu'))


def test_lengths_and_sample_order(dtu_root):
    train = DTUMVSDataset(dtu_root)
    assert len(train) == len(SCANS) * NUM_VIEWS * 7
    metas = [train[i]['meta'] for i in (0, 1, 7, 7 * NUM_VIEWS)]
    assert [(m['scan'], m['view'], m['light'])
            for m in metas] == [('scan1', 0, 0), ('scan1', 0, 1),
                                ('scan1', 1, 0), ('scan4', 0, 0)]
    assert len(DTUMVSDataset(dtu_root, lights=(1, 3))) == 2 * NUM_VIEWS * 2
    assert len(DTUMVSDataset(dtu_root, max_views=2)) == 2 * 2 * 7
    test = DTUMVSDataset(dtu_root, split='test', crop=(32, 40))
    assert len(test) == 1 * NUM_VIEWS
    assert {test[i]['meta']['light'] for i in range(len(test))} == {3}
    assert train.scans == SCANS and test.scans == ['scan1']
    assert train.metainfo['split'] == 'train'
    assert train.metainfo['num_levels'] == 2


def test_item_format(dtu_root):
    dataset = DTUMVSDataset(dtu_root, nsrc=2, num_levels=3)
    item = dataset[7 + 2]  # scan1, view 1, light 2
    assert set(item) == {
        'imgs', 'intrinsics', 'extrinsics', 'depth_min', 'depth_max', 'depths',
        'meta'
    }
    assert item['imgs'].shape == (3, 3, HEIGHT, WIDTH)
    assert item['imgs'].dtype == torch.float32
    assert 0 <= item['imgs'].min() and item['imgs'].max() <= 1
    assert item['intrinsics'].shape == (3, 3, 3)
    assert item['intrinsics'].dtype == torch.float32
    assert item['extrinsics'].shape == (3, 4, 4)
    assert item['extrinsics'].dtype == torch.float32
    camera = circle_camera(1, NUM_VIEWS)
    torch.testing.assert_close(item['extrinsics'][0],
                               torch.tensor(camera.extrinsic).float())
    assert isinstance(item['depth_min'], float)
    assert item['depth_min'] == 426.0
    assert item['depth_max'] == 426.0 + 256 * 2.5
    assert [tuple(d.shape) for d in item['depths']] == [(32, 40), (16, 20),
                                                        (8, 10)]
    assert all(d.dtype == torch.float32 for d in item['depths'])
    meta = item['meta']
    assert meta == dict(scan='scan1',
                        view=1,
                        light=2,
                        src_views=[3, 2],
                        image_file=DTULayout(dtu_root).train_image(
                            'scan1', 1, 2),
                        data_root=dtu_root)
    # Images are the files' pixels, RGB, / 255.
    for k, view in enumerate([1, 3, 2]):
        bgr = cv2.imread(DTULayout(dtu_root).train_image('scan1', view, 2))
        expected = torch.from_numpy(bgr[..., ::-1] / 255.0).permute(2, 0, 1)
        torch.testing.assert_close(item['imgs'][k], expected.float())
    # Cameras follow the views.
    for k, view in enumerate([1, 3, 2]):
        torch.testing.assert_close(
            item['intrinsics'][k],
            torch.tensor(circle_camera(view, NUM_VIEWS).intrinsic).float())
    assert dataset.camera('scan4', 3).depth_min == 428.0
    with pytest.raises(KeyError):
        dataset.camera('scan9', 0)


def test_red_image_is_channel_0(dtu_root):
    imgs = DTUMVSDataset(dtu_root)[0]['imgs']
    assert torch.all(imgs[0, 0] == 1)
    assert torch.all(imgs[0, 1:] == 0)


def test_sources_follow_pair_order(dtu_root):
    dataset = DTUMVSDataset(dtu_root, nsrc=3, lights=(0, ))
    assert dataset.pairs == {v: source_order(v) for v in range(NUM_VIEWS)}
    for index in range(NUM_VIEWS):
        meta = dataset[index]['meta']
        assert meta['src_views'] == [s for s, _ in source_order(meta['view'])]
    assert DTUMVSDataset(dtu_root, nsrc=1)[0]['meta']['src_views'] == [2]


def test_depth_levels_are_pil_bicubic(dtu_root):
    dataset = DTUMVSDataset(dtu_root, num_levels=3, lights=(0, ))
    item = dataset[1]  # view 1
    depth = read_pfm(DTULayout(dtu_root).depth_file('scan1', 1))
    np.testing.assert_array_equal(item['depths'][0].numpy(), depth)
    assert (item['depths'][0] == 0).any()  # invalid pixels stay 0
    for level, (w, h) in ((1, (20, 16)), (2, (10, 8))):
        expected = np.asarray(
            Image.fromarray(depth).resize((w, h), Image.BICUBIC))
        np.testing.assert_array_equal(item['depths'][level].numpy(), expected)
    # Not a plain 2x2 average.
    pooled = depth.reshape(16, 2, 20, 2).mean((1, 3))
    assert not np.allclose(item['depths'][1].numpy(), pooled)


def test_drop_blended_depth_invalidates_pixels_next_to_holes():
    """A constant plane with one hole: the reference's bicubic levels blend
    the hole's neighbours towards 0; ``drop_blended`` makes exactly the
    coarse pixels whose filter reaches the hole invalid and leaves the
    others at the plane's depth."""
    from mmext.datasets.dtu_mvs import downsample_depth
    depth = np.full((32, 40), 700.0, np.float32)
    depth[10:12, 20:22] = 0
    blended = downsample_depth(depth, 1)
    dropped = downsample_depth(depth, 1, drop_blended=True)
    assert blended.min() < 500  # valid by the reference's depth > 425 rule
    hole = (dropped == 0)
    # PIL's bicubic support at a factor of 2 is 4 fine pixels each side:
    # coarse pixels 3..7 (rows) and 8..12 (columns) reach the hole.
    expected = np.zeros_like(hole)
    expected[3:8, 8:13] = True
    np.testing.assert_array_equal(hole, expected)
    np.testing.assert_allclose(dropped[~hole], 700.0, rtol=1e-6)
    # The reference's levels elsewhere are unchanged.
    np.testing.assert_array_equal(dropped[~hole], blended[~hole])


def test_test_split_crop_keeps_top_rows_and_intrinsics(dtu_root):
    with pytest.raises(ValueError, match=r'36x40.*num_levels=4.*crop'):
        DTUMVSDataset(dtu_root, split='test', num_levels=4)
    dataset = DTUMVSDataset(dtu_root,
                            split='test',
                            num_levels=4,
                            crop=(32, 40))
    assert dataset.with_depth is False
    item = dataset[2]
    assert 'depths' not in item
    assert item['imgs'].shape == (3, 3, 32, 40)
    path = DTULayout(dtu_root).test_image('scan1', 2)
    assert item['meta']['image_file'] == path
    rgb = cv2.imread(path)[..., ::-1]  # 36x40
    expected = torch.from_numpy(rgb[:32] / 255.0).permute(2, 0, 1).float()
    torch.testing.assert_close(item['imgs'][0], expected)
    # The top-left origin does not move: intrinsics as in the file.
    torch.testing.assert_close(
        item['intrinsics'][0],
        torch.tensor(circle_camera(2, NUM_VIEWS).intrinsic).float())


def test_train_crop_crops_depth_too(dtu_root):
    item = DTUMVSDataset(dtu_root, crop=(16, 24), lights=(0, ))[0]
    depth = read_pfm(DTULayout(dtu_root).depth_file('scan1', 0))
    assert item['imgs'].shape == (3, 3, 16, 24)
    np.testing.assert_array_equal(item['depths'][0].numpy(), depth[:16, :24])
    assert item['depths'][1].shape == (8, 12)


def test_size_not_divisible(dtu_root):
    with pytest.raises(ValueError) as error:
        DTUMVSDataset(dtu_root, num_levels=5)
    message = str(error.value)
    assert 'rect_001_0_r5000.png' in message and '32x40' in message
    assert 'num_levels=5' in message and 'fewer levels' in message
    with pytest.raises(ValueError, match=r'smaller than crop'):
        DTUMVSDataset(dtu_root, crop=(64, 40))


def test_pair_naming_a_missing_view(fresh_root):
    layout = DTULayout(fresh_root)
    pairs = {v: source_order(v) for v in range(NUM_VIEWS)}
    pairs[2] = [(60, 5.0)] + pairs[2]
    write_pair_txt(layout.pair_file(), pairs)
    with pytest.raises(ValueError,
                       match=r"pair\.txt'.*reference view 2 names source "
                       r'view 60'):
        DTUMVSDataset(fresh_root)
    # A view in range but without a camera.
    write_pair_txt(layout.pair_file(),
                   {v: source_order(v)
                    for v in range(NUM_VIEWS)})
    os.remove(layout.cam_file(3))
    with pytest.raises(ValueError,
                       match=r'reference view 0 names source view 3'):
        DTUMVSDataset(fresh_root)


def test_source_without_image(fresh_root):
    os.remove(DTULayout(fresh_root).train_image('scan4', 3, 5))
    # View 0's first sources are 2, 1; view 1's are 3, 2.
    with pytest.raises(ValueError,
                       match=r'reference view 1 names source view 3.*'
                       r'rect_004_5_r5000'):
        DTUMVSDataset(fresh_root)
    DTUMVSDataset(fresh_root, lights=(0, 1, 2, 3, 4, 6))


def test_too_few_sources(dtu_root):
    with pytest.raises(ValueError,
                       match=r'reference view 0 has 3 source views, nsrc=4'):
        DTUMVSDataset(dtu_root, nsrc=4)


def test_depth_min_not_below_depth_max(fresh_root):
    layout = DTULayout(fresh_root)
    camera = circle_camera(1, NUM_VIEWS)
    write_cam_txt(layout.cam_file(1),
                  MVSCamera(camera.extrinsic, camera.intrinsic, 425.0, 0.0))
    with pytest.raises(ValueError,
                       match=r"00000001_cam\.txt'.*depth_min 425.0 >= "
                       r'depth_max 425.0'):
        DTUMVSDataset(fresh_root)


def test_missing_depth_file(fresh_root):
    path = DTULayout(fresh_root).depth_file('scan4', 2)
    os.remove(path)
    with pytest.raises(ValueError, match='depth_map_0002.pfm'):
        DTUMVSDataset(fresh_root)
    dataset = DTUMVSDataset(fresh_root, with_depth=False)
    assert 'depths' not in dataset[0]


def test_depth_of_another_size(fresh_root):
    path = DTULayout(fresh_root).depth_file('scan1', 0)
    write_pfm(path, np.ones((8, 10), np.float32))
    with pytest.raises(ValueError, match=r'depth_map_0000\.pfm.*8x10'):
        DTUMVSDataset(fresh_root)[0]


@pytest.mark.parametrize('kwargs, field', [
    (dict(split='val'), 'split'),
    (dict(nsrc=0), 'nsrc'),
    (dict(num_levels=0), 'num_levels'),
    (dict(lights=()), 'lights'),
    (dict(lights=(1, 1)), 'lights'),
    (dict(crop=(32, )), 'crop'),
    (dict(with_depth='yes'), 'with_depth'),
    (dict(max_views=0), 'max_views'),
    (dict(scan_list='nope.txt'), 'nope.txt'),
])
def test_argument_errors(dtu_root, kwargs, field):
    with pytest.raises(ValueError, match=field):
        DTUMVSDataset(dtu_root, **kwargs)
    with pytest.raises(ValueError, match='data_root'):
        DTUMVSDataset(osp.join(dtu_root, 'missing'))


def test_scan_list_override(dtu_root, tmp_path):
    path = str(tmp_path / 'only4.txt')
    write_scan_list(path, ['scan4'])
    dataset = DTUMVSDataset(dtu_root, scan_list=path, lights=(0, ))
    assert dataset.scans == ['scan4'] and len(dataset) == NUM_VIEWS


def test_builds_from_config(dtu_root):
    dataset = DATASETS.build(
        dict(type='mmext.DTUMVSDataset',
             data_root=dtu_root,
             split='train',
             nsrc=2,
             num_levels=2,
             lights=[0, 3]))
    assert isinstance(dataset, DTUMVSDataset)
    assert len(dataset) == len(SCANS) * NUM_VIEWS * 2
