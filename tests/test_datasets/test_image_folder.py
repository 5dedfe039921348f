import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS as ROOT_DATASETS

from mmext.datasets import ImageFolderDataset
from mmext.structures import ClsDataSample

CLASS_SIZES = {'dog': 3, 'cat': 2, 'emu': 1}


def _write_tree(root, sizes=CLASS_SIZES, size=(12, 10)):
    """Write ``root/<class>/<k>.png``; class i is filled with grey 40 * i."""
    for i, (name, count) in enumerate(sorted(sizes.items())):
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(count):
            img = np.full((*size, 3), 40 * i, dtype=np.uint8)
            assert cv2.imwrite(str(folder / f'{k:05d}.png'), img)
    return root


@pytest.fixture
def tree(tmp_path):
    root = _write_tree(tmp_path / 'data' / 'train')
    (root / 'cat' / 'notes.txt').write_text('not an image')
    # Upper-case extensions count too.
    cv2.imwrite(str(root / 'emu' / 'EXTRA.JPG'),
                np.full((12, 10, 3), 80, dtype=np.uint8))
    return tmp_path / 'data'


def test_folder_mode_infers_sorted_classes(tree):
    ds = ImageFolderDataset(data_root=str(tree), data_prefix='train')
    assert ds.metainfo['classes'] == ('cat', 'dog', 'emu')
    assert len(ds) == 7
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert labels == [0, 0, 1, 1, 1, 2, 2]
    assert [ds.get_cat_ids(i) for i in (0, 2, 6)] == [[0], [1], [2]]
    info = ds.get_data_info(5)
    assert info['img_path'] == osp.join(str(tree), 'train', 'emu',
                                        '00000.png')
    assert set(info) == {'img_path', 'gt_label', 'sample_idx'}
    assert all(not p.endswith('.txt') for p in
               (ds.get_data_info(i)['img_path'] for i in range(len(ds))))


def test_given_classes_set_labels_and_subset(tree):
    ds = ImageFolderDataset(
        data_root=str(tree),
        data_prefix=dict(img_path='train'),
        metainfo=dict(classes=('emu', 'cat')))
    assert ds.metainfo['classes'] == ('emu', 'cat')
    assert len(ds) == 4  # 'dog' is not a listed class
    assert sorted(ds.get_cat_ids(i)[0] for i in range(4)) == [0, 0, 1, 1]
    assert 'cat' in ds.get_data_info(3)['img_path']


def test_pipeline_and_registry_build(tree):
    ds = ROOT_DATASETS.build(
        dict(
            type='mmext.ImageFolderDataset',
            data_root=str(tree),
            data_prefix='train',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='mmext.PackClsInputs')
            ]))
    item = ds[2]  # a 'dog' image, grey value 40
    assert item['inputs'].shape == (3, 12, 10)
    assert item['inputs'].dtype == torch.uint8
    assert int(item['inputs'][0, 0, 0]) == 40
    sample = item['data_samples']
    assert isinstance(sample, ClsDataSample)
    assert sample.gt_label.tolist() == [1]
    assert sample.ori_shape == (12, 10) and sample.img_shape == (12, 10)
    assert sample.img_path.endswith(osp.join('dog', '00000.png'))
    assert sample.sample_idx == 2


def test_ann_file_mode(tree):
    (tree / 'train.txt').write_text(
        'dog/00001.png 1\n\ncat/00000.png 0\nemu/00000.png\t2\n')
    ds = ImageFolderDataset(
        data_root=str(tree),
        data_prefix='train',
        ann_file='train.txt',
        metainfo=dict(classes=('cat', 'dog', 'emu')))
    assert len(ds) == 3
    assert [ds.get_cat_ids(i) for i in range(3)] == [[1], [0], [2]]
    assert ds.get_data_info(0)['img_path'] == osp.join(
        str(tree), 'train', 'dog', '00001.png')
    # Without classes the labels are kept and classes stay unset.
    ds = ImageFolderDataset(
        data_root=str(tree), data_prefix='train', ann_file='train.txt')
    assert 'classes' not in ds.metainfo and len(ds) == 3


def test_missing_dir_points_to_shapes_generator(tmp_path):
    root = str(tmp_path / 'data' / 'shapes')
    with pytest.raises(FileNotFoundError) as err:
        ImageFolderDataset(
            data_root=root, data_prefix='classification/train')
    msg = str(err.value)
    assert osp.join(root, 'classification', 'train') in msg
    assert ('generate it with: python tools/misc/make_shapes.py --preset '
            f'demo --out {root}') in msg


def test_missing_dir_without_shapes_hint(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist') as err:
        ImageFolderDataset(data_root=str(tmp_path), data_prefix='nowhere')
    assert 'make_shapes' not in str(err.value)


def test_bad_folders_raise_value_errors(tmp_path):
    root = _write_tree(tmp_path / 'train', {'a': 1})
    (root / 'b').mkdir()
    with pytest.raises(ValueError, match=r"class folder .*'b'.* holds no"):
        ImageFolderDataset(data_root=str(root))
    with pytest.raises(ValueError, match=r"metainfo\['classes'\] lists "
                       r"\['zebra'\]"):
        ImageFolderDataset(
            data_root=str(root), metainfo=dict(classes=('a', 'zebra')))
    with pytest.raises(ValueError, match=r"metainfo\['classes'\] must be"):
        ImageFolderDataset(data_root=str(root), metainfo=dict(classes='a'))
    flat = tmp_path / 'flat'
    flat.mkdir()
    with pytest.raises(ValueError, match='no class folders in data_prefix'):
        ImageFolderDataset(data_root=str(flat))


def test_bad_ann_files(tree):
    kwargs = dict(data_root=str(tree), data_prefix='train')
    with pytest.raises(FileNotFoundError, match='ann_file'):
        ImageFolderDataset(ann_file='missing.txt', **kwargs)
    (tree / 'bad.txt').write_text('cat/00000.png 0\ndog/00000.png dog\n')
    with pytest.raises(ValueError, match='line 2'):
        ImageFolderDataset(ann_file='bad.txt', **kwargs)
    (tree / 'range.txt').write_text('cat/00000.png 5\n')
    with pytest.raises(ValueError, match='unknown class label 5'):
        ImageFolderDataset(
            ann_file='range.txt',
            metainfo=dict(classes=('cat', 'dog')),
            **kwargs)
    (tree / 'empty.txt').write_text('\n')
    with pytest.raises(ValueError, match='lists no images'):
        ImageFolderDataset(ann_file='empty.txt', **kwargs)
