"""Tests of the DTU file readers and writers (mmext.datasets.dtu_io)."""
import os
import os.path as osp

import numpy as np
import pytest

from mmext.datasets.dtu_io import (DTULayout, MVSCamera, check_pairs,
                                   read_cam_txt, read_pair_txt, read_pfm,
                                   read_scan_list, scan_number, write_cam_txt,
                                   write_pair_txt, write_pfm, write_scan_list)

# A camera written by hand in DTU's layout (values in the style of view 0).
DTU_CAM = """extrinsic
0.970263 0.00747983 0.241939 -191.02
-0.0147429 0.999493 0.0282234 3.28832
-0.241605 -0.0309418 0.969881 22.5401
0.0 0.0 0.0 1.0

intrinsic
2892.33 0 823.205
0 2883.18 619.071
0 0 1

425.0 2.5
"""


def _write(path, text, mode='w'):
    with open(path, mode) as handle:
        handle.write(text)
    return str(path)


# --------------------------------------------------------------- PFM
def test_pfm_grey_round_trip_stores_rows_bottom_to_top(tmp_path):
    depth = np.arange(12, dtype=np.float32).reshape(3, 4) + 0.5
    depth[0] = [100.25, 200.5, 300.75, 400.0]  # a distinct first row
    path = str(tmp_path / 'sub' / 'd.pfm')
    write_pfm(path, depth)
    with open(path, 'rb') as handle:
        data = handle.read()
    header = b'Pf\n4 3\n-1.0\n'
    assert data.startswith(header)
    body = np.frombuffer(data[len(header):], '<f4').reshape(3, 4)
    np.testing.assert_array_equal(body[-1], depth[0])  # last stored row
    np.testing.assert_array_equal(body[0], depth[-1])
    back = read_pfm(path)
    assert back.dtype == np.float32 and back.shape == (3, 4)
    np.testing.assert_array_equal(back, depth)


def test_pfm_colour_round_trip(tmp_path):
    image = np.random.default_rng(0).random((5, 2, 3), dtype=np.float32)
    path = str(tmp_path / 'c.pfm')
    write_pfm(path, image)
    with open(path, 'rb') as handle:
        assert handle.readline() == b'PF\n'
        assert handle.readline() == b'2 5\n'
        handle.readline()
        body = np.frombuffer(handle.read(), '<f4').reshape(5, 2, 3)
    np.testing.assert_array_equal(body[-1], image[0])
    back = read_pfm(path)
    assert back.shape == (5, 2, 3)
    np.testing.assert_array_equal(back, image)


def test_pfm_big_endian_hand_written(tmp_path):
    stored = np.array([[1.5, -2.0, 3.25], [4.0, 5.5, 6.0]], '>f4')
    path = _write(tmp_path / 'be.pfm', b'Pf\n3 2\n1.0\n' + stored.tobytes(),
                  'wb')
    back = read_pfm(path)
    assert back.dtype == np.float32 and back.dtype.isnative
    np.testing.assert_array_equal(back, [[4.0, 5.5, 6.0], [1.5, -2.0, 3.25]])


def test_pfm_errors_name_the_file(tmp_path):
    bad = _write(tmp_path / 'bad.pfm', b'P5\n3 2\n-1\n' + bytes(24), 'wb')
    with pytest.raises(ValueError, match=r"bad\.pfm.*header"):
        read_pfm(bad)
    short = _write(tmp_path / 'short.pfm', b'Pf\n3 2\n-1\n' + bytes(20), 'wb')
    with pytest.raises(ValueError, match=r"short\.pfm.*truncated.*20 bytes"):
        read_pfm(short)
    size = _write(tmp_path / 'size.pfm', b'Pf\n3 x\n-1\n' + bytes(24), 'wb')
    with pytest.raises(ValueError, match=r"size\.pfm.*W H"):
        read_pfm(size)
    with pytest.raises(ValueError, match=r"x\.pfm.*\[H, W\]"):
        write_pfm(str(tmp_path / 'x.pfm'), np.zeros((2, 2, 2), np.float32))


# --------------------------------------------------------------- cameras
def test_cam_txt_hand_written_dtu_file(tmp_path):
    camera = read_cam_txt(_write(tmp_path / '00000000_cam.txt', DTU_CAM))
    assert camera.extrinsic.shape == (4, 4)
    assert camera.extrinsic.dtype == np.float64
    assert camera.extrinsic[0, 3] == -191.02
    assert camera.extrinsic[2, 1] == -0.0309418
    np.testing.assert_array_equal(camera.extrinsic[3], [0, 0, 0, 1])
    np.testing.assert_array_equal(
        camera.intrinsic,
        [[2892.33, 0, 823.205], [0, 2883.18, 619.071], [0, 0, 1]])
    assert camera.depth_min == 425.0 and camera.depth_interval == 2.5
    assert camera.depth_max() == 425.0 + 256 * 2.5
    assert camera.depth_max(192) == 425.0 + 192 * 2.5


def test_cam_txt_mvsnet_depth_line_with_four_numbers(tmp_path):
    text = DTU_CAM.replace('425.0 2.5', '425.0 2.5 192 905.0')
    camera = read_cam_txt(_write(tmp_path / 'c.txt', text))
    assert (camera.depth_min, camera.depth_interval) == (425.0, 2.5)


def test_cam_txt_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = rotation
    extrinsic[:3, 3] = rng.normal(size=3) * 100
    intrinsic = np.array([[1 / 3, 0, 20.1], [0, 2 / 7, 16.3], [0, 0, 1]])
    camera = MVSCamera(extrinsic, intrinsic, 1 / 3, 0.1)
    path = str(tmp_path / 'deep' / 'cam.txt')
    write_cam_txt(path, camera)
    back = read_cam_txt(path)
    np.testing.assert_array_equal(back.extrinsic, extrinsic)
    np.testing.assert_array_equal(back.intrinsic, intrinsic)
    assert back.depth_min == 1 / 3 and back.depth_interval == 0.1


@pytest.mark.parametrize('old, new, pattern', [
    ('-0.0147429 0.999493 0.0282234 3.28832', '-0.0147429 0.999493 3.28832',
     r"bad_cam\.txt' line 3: extrinsic row 2 has 3 numbers, expected 4"),
    ('intrinsic\n', '',
     r"bad_cam\.txt' line 7: expected the section header 'intrinsic'"),
    ('0 2883.18 619.071', '0 abc 619.071',
     r"bad_cam\.txt' line 9 \(intrinsic row 2\): 'abc' is not a number"),
    ('22.5401', 'nan', r"line 4 \(extrinsic row 3\): 'nan' is not a finite"),
    ('\n425.0 2.5\n', '\n', r"bad_cam\.txt'.*missing the depth line"),
    ('425.0 2.5', '425.0', r"line 12 \(depth range\): has 1 numbers"),
])
def test_cam_txt_errors_name_file_and_row(tmp_path, old, new, pattern):
    assert old in DTU_CAM
    path = _write(tmp_path / 'bad_cam.txt', DTU_CAM.replace(old, new))
    with pytest.raises(ValueError, match=pattern):
        read_cam_txt(path)


def test_cam_txt_singular_extrinsic(tmp_path):
    text = DTU_CAM.replace('0.970263 0.00747983 0.241939', '0 0 0')
    path = _write(tmp_path / 'sing.txt', text)
    with pytest.raises(ValueError, match=r"sing\.txt.*singular"):
        read_cam_txt(path)


def test_camera_checks_shapes():
    with pytest.raises(ValueError, match='extrinsic must have shape'):
        MVSCamera(np.eye(3), np.eye(3), 1.0, 1.0)
    camera = MVSCamera(np.eye(4), np.eye(3), 1, 1)
    with pytest.raises(ValueError):  # read-only arrays
        camera.extrinsic[0, 0] = 2


# --------------------------------------------------------------- pairs
def test_pair_txt_round_trip(tmp_path):
    pairs = {
        0: [(2, 2346.41), (1, 2036.53)],
        1: [(0, 1.0 / 3)],
        2: [(1, 5.0), (0, 4.0)]
    }
    path = str(tmp_path / 'Cameras' / 'pair.txt')
    write_pair_txt(path, pairs)
    with open(path) as handle:
        lines = handle.read().splitlines()
    assert lines[:3] == ['3', '0', '2 2 2346.41 1 2036.53']
    back = read_pair_txt(path)
    assert back == pairs
    assert list(back) == [0, 1, 2]
    check_pairs(back, 3, path)


def test_pair_txt_dtu_style_with_trailing_spaces(tmp_path):
    path = _write(tmp_path / 'pair.txt',
                  '2\n0\n1 1 2346.41 \n1\n1 0 2036.53 \n\n')
    assert read_pair_txt(path) == {0: [(1, 2346.41)], 1: [(0, 2036.53)]}


@pytest.mark.parametrize('text, pattern', [
    ('3\n0\n1 1 2.0\n1\n1 0 2.0\n',
     r"pair\.txt' is truncated: line 1 announces 3 views.*2 complete"),
    ('2\n0\n2 1 2.0\n1\n1 0 2.0\n',
     r"line 3: reference view 0 announces 2 source views"),
    ('2\n0\n1 1 2.0\n0\n1 1 2.0\n', r"line 4: reference view 0 appears twice"),
    ('2\n0\n1 x 2.0\n1\n1 0 2.0\n', r"line 3: source view 'x'"),
    ('1\n0\n1 1 2.0\n1\n1 0 2.0\n', r"line 4: unexpected text after"),
])
def test_pair_txt_errors_name_file_and_line(tmp_path, text, pattern):
    path = _write(tmp_path / 'pair.txt', text)
    with pytest.raises(ValueError, match=pattern):
        read_pair_txt(path)


def test_check_pairs_names_the_missing_view(tmp_path):
    pairs = {v: [((v + 1) % 49, 1.0)] for v in range(49)}
    pairs[7] = [(8, 1.0), (60, 0.5)]
    with pytest.raises(
            ValueError,
            match=r"pair\.txt'.*reference view 7 names source view 60"):
        check_pairs(pairs, 49, 'x/pair.txt')
    del pairs[7]
    check_pairs(pairs, 49, 'x/pair.txt')
    with pytest.raises(ValueError,
                       match=r'reference view 4 names source view 5.*camera'):
        check_pairs(pairs, 49, 'pair.txt', available=set(range(49)) - {5})
    with pytest.raises(ValueError, match=r'reference view -1 does not exist'):
        check_pairs({-1: []}, 49, 'pair.txt')


# --------------------------------------------------------------- scan lists
def test_scan_list_round_trip(tmp_path):
    path = str(tmp_path / 'scan_list_train.txt')
    write_scan_list(path, ['scan2', 'scan6', 'scan128'])
    with open(path) as handle:
        assert handle.read() == 'scan2\nscan6\nscan128\n'
    assert read_scan_list(path) == ['scan2', 'scan6', 'scan128']
    with pytest.raises(ValueError, match='whitespace'):
        write_scan_list(path, ['scan 1'])
    _write(path, 'scan1\nscan1\n')
    with pytest.raises(ValueError, match="names 'scan1' twice"):
        read_scan_list(path)
    assert scan_number('scan114') == 114
    with pytest.raises(ValueError, match='scan<number>'):
        scan_number('114')


# --------------------------------------------------------------- atomicity
def test_writers_are_atomic(tmp_path, monkeypatch):
    folder = tmp_path / 'd'
    pfm = str(folder / 'x.pfm')
    write_pfm(pfm, np.ones((2, 2), np.float32))
    cam = str(folder / 'cam.txt')
    write_cam_txt(cam, MVSCamera(np.eye(4), np.eye(3), 1.0, 1.0))
    pair = str(folder / 'pair.txt')
    write_pair_txt(pair, {0: [(1, 1.0)], 1: [(0, 1.0)]})
    scans = str(folder / 'scans.txt')
    write_scan_list(scans, ['scan1'])
    before = {p: open(p, 'rb').read() for p in (pfm, cam, pair, scans)}

    def fail(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        write_pfm(pfm, np.zeros((3, 3), np.float32))
    with pytest.raises(OSError, match='disk full'):
        write_cam_txt(cam, MVSCamera(np.eye(4), np.eye(3), 2.0, 2.0))
    with pytest.raises(OSError, match='disk full'):
        write_pair_txt(pair, {})
    with pytest.raises(OSError, match='disk full'):
        write_scan_list(scans, ['scan9'])
    monkeypatch.undo()
    for path, data in before.items():
        with open(path, 'rb') as handle:
            assert handle.read() == data, path
    assert sorted(os.listdir(folder)) == sorted(
        osp.basename(p) for p in before)  # no temporary file left
    np.testing.assert_array_equal(read_pfm(pfm), np.ones((2, 2)))


# --------------------------------------------------------------- layout
def test_layout_paths():
    layout = DTULayout('root')
    j = osp.join
    assert layout.cam_file(3) == j('root', 'Cameras', '00000003_cam.txt')
    assert layout.test_cam_file('scan1', 3) == layout.cam_file(3)
    assert layout.pair_file() == j('root', 'Cameras', 'pair.txt')
    assert layout.train_image('scan1', 0,
                              6) == j('root', 'Rectified', 'scan1_train',
                                      'rect_001_6_r5000.png')
    assert layout.test_image('scan1', 48) == j('root', 'Rectified', 'scan1',
                                               'rect_049_3_r5000.png')
    assert layout.depth_file('scan1', 12) == j('root', 'Depths', 'scan1_train',
                                               'depth_map_0012.pfm')
    assert layout.depth_file('scan1', 12,
                             'test') == j('root', 'Depths', 'scan1',
                                          'depth_map_0012.pfm')
    assert layout.scan_list('test') == j('root', 'scan_list_test.txt')
    assert layout.points_file(1) == j('root', 'Points', 'stl',
                                      'stl001_total.ply')
