"""Tests of mmext.mvs.ply: binary PLY point clouds, written atomically and
never over an existing file unless asked."""
import os

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from mmext.mvs import read_point_cloud, write_point_cloud


def _cloud(n=50, seed=0):
    rng = np.random.default_rng(seed)
    points = rng.normal(0, 100, (n, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (n, 3)).astype(np.uint8)
    return points, colors


def test_round_trip_with_colours(tmp_path):
    points, colors = _cloud()
    path = str(tmp_path / 'sub' / 'cloud.ply')
    write_point_cloud(path, points, colors)
    read_points, read_colors = read_point_cloud(path)
    np.testing.assert_array_equal(read_points, points)
    np.testing.assert_array_equal(read_colors, colors)
    assert read_points.dtype == np.float32 and read_colors.dtype == np.uint8
    ply = PlyData.read(path)
    assert not ply.text and ply.byte_order == '<'
    assert [p.name for p in ply['vertex'].properties] == \
        ['x', 'y', 'z', 'red', 'green', 'blue']
    assert ply['vertex']['red'].dtype == np.uint8
    assert ply['vertex']['x'].dtype == np.float32
    with open(path, 'rb') as handle:
        assert b'format binary_little_endian 1.0' in handle.read(200)


def test_header_comments(tmp_path):
    points, colors = _cloud(5)
    path = str(tmp_path / 'commented.ply')
    write_point_cloud(path, points, colors, comments=['made by a test'])
    assert PlyData.read(path).comments == ['made by a test']
    np.testing.assert_array_equal(read_point_cloud(path)[0], points)


def test_round_trip_without_colours_and_empty(tmp_path):
    points, _ = _cloud()
    path = str(tmp_path / 'plain.ply')
    write_point_cloud(path, points.astype(np.float64))
    read_points, read_colors = read_point_cloud(path)
    np.testing.assert_array_equal(read_points, points)
    assert read_colors is None
    empty = str(tmp_path / 'empty.ply')
    write_point_cloud(empty, np.zeros((0, 3)), np.zeros((0, 3), np.uint8))
    assert read_point_cloud(empty)[0].shape == (0, 3)


def test_reads_ascii_files_of_other_writers(tmp_path):
    vertex = np.array([(1.5, 2.0, -3.0, 9, 8, 7)],
                      dtype=[('x', 'f8'), ('y', 'f8'), ('z', 'f8'),
                             ('red', 'u1'), ('green', 'u1'),
                             ('blue', 'u1')])
    path = str(tmp_path / 'ascii.ply')
    PlyData([PlyElement.describe(vertex, 'vertex')], text=True).write(path)
    points, colors = read_point_cloud(path)
    assert points.tolist() == [[1.5, 2.0, -3.0]]
    assert colors.tolist() == [[9, 8, 7]]
    with pytest.raises(FileNotFoundError, match='missing.ply'):
        read_point_cloud(str(tmp_path / 'missing.ply'))


def test_no_overwrite_without_the_flag(tmp_path):
    old_points, old_colors = _cloud(seed=1)
    path = str(tmp_path / 'cloud.ply')
    write_point_cloud(path, old_points, old_colors)
    before = open(path, 'rb').read()
    new_points, new_colors = _cloud(n=10, seed=2)
    with pytest.raises(FileExistsError, match=r'cloud\.ply.*overwrite=True'):
        write_point_cloud(path, new_points, new_colors)
    assert open(path, 'rb').read() == before
    write_point_cloud(path, new_points, new_colors, overwrite=True)
    np.testing.assert_array_equal(read_point_cloud(path)[0], new_points)


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    points, colors = _cloud()
    path = str(tmp_path / 'cloud.ply')

    def broken_write(self, stream):
        with open(stream, 'wb') as handle:
            handle.write(b'ply\nformat binary_little_endian 1.0\n')
        raise OSError('disk full')

    monkeypatch.setattr(PlyData, 'write', broken_write)
    with pytest.raises(OSError, match='disk full'):
        write_point_cloud(path, points, colors)
    assert os.listdir(tmp_path) == []
    # Over an existing file: the old content survives.
    monkeypatch.undo()
    write_point_cloud(path, points, colors)
    before = open(path, 'rb').read()
    monkeypatch.setattr(PlyData, 'write', broken_write)
    with pytest.raises(OSError, match='disk full'):
        write_point_cloud(path, points[:3], colors[:3], overwrite=True)
    assert os.listdir(tmp_path) == ['cloud.ply']
    assert open(path, 'rb').read() == before


def test_bad_arrays_name_the_argument(tmp_path):
    points, colors = _cloud()
    path = str(tmp_path / 'x.ply')
    with pytest.raises(ValueError, match=r'points.*\[P, 3\]'):
        write_point_cloud(path, points[:, :2])
    with pytest.raises(ValueError, match='colors.*uint8'):
        write_point_cloud(path, points, colors.astype(np.float32))
    with pytest.raises(ValueError, match='colors'):
        write_point_cloud(path, points, colors[:3])
    assert not os.path.exists(path)
