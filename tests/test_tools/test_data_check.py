"""Tests for mmext.utils.data_check (the data check run by the tools)."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmext.utils.data_check import (check_dataset_paths, iter_dataset_paths,
                                    shapes_command)

DEMO_COMMAND = ('python tools/misc/make_shapes.py --preset demo '
                '--out data/shapes')


def _loader(dataset: dict) -> dict:
    return dict(batch_size=2, dataset=dataset)


def _coco_like(data_root: str, ann_file: str = 'annotations/train.json',
               img: str = 'train/') -> dict:
    return dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=dict(img=img))


def _make(root, *relpaths):
    """Create files (``x.json``) and folders (``x/``) below ``root``."""
    for rel in relpaths:
        path = osp.join(str(root), rel)
        if rel.endswith('/'):
            (root / rel).mkdir(parents=True, exist_ok=True)
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text('{}')
        assert osp.exists(path)


def test_shapes_command():
    assert shapes_command() == DEMO_COMMAND
    assert shapes_command('tiny', '/x/y/') == (
        'python tools/misc/make_shapes.py --preset tiny --out /x/y')


def test_missing_ann_file_under_shapes_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, 'data/shapes/train/')
    cfg = dict(train_dataloader=_loader(_coco_like('data/shapes/')))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    msg = str(err.value)
    assert 'data/shapes/annotations/train.json' in msg
    assert 'train_dataloader.dataset.ann_file' in msg
    assert DEMO_COMMAND in msg
    # The existing image folder is not reported.
    assert 'data_prefix' not in msg


def test_missing_prefix_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, 'data/shapes/annotations/train.json')
    cfg = dict(val_dataloader=_loader(_coco_like('data/shapes')))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    msg = str(err.value)
    assert 'data/shapes/train' in msg
    assert 'val_dataloader.dataset.data_prefix.img' in msg
    assert DEMO_COMMAND in msg


def test_missing_data_root_reports_every_path_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = _coco_like('data/shapes')
    cfg = dict(
        train_dataloader=_loader(dataset),
        val_dataloader=_loader(dataset),
        test_dataloader=_loader(dataset))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    msg = str(err.value)
    assert msg.count('data/shapes/annotations/train.json') == 1
    assert msg.count(DEMO_COMMAND) == 1


def test_existing_paths_pass(tmp_path):
    _make(tmp_path, 'annotations/train.json', 'train/')
    dataset = _coco_like(str(tmp_path))
    cfg = Config(
        dict(
            train_dataloader=_loader(dataset),
            val_dataloader=_loader(dataset),
            test_dataloader=None))
    check_dataset_paths(cfg)
    paths = [p for p, _, _ in iter_dataset_paths(cfg)]
    assert osp.join(str(tmp_path), 'annotations/train.json') in paths


def test_absolute_paths_ignore_data_root(tmp_path):
    _make(tmp_path, 'a.json', 'imgs/')
    dataset = dict(
        type='X',
        data_root='/does/not/exist',
        ann_file=str(tmp_path / 'a.json'),
        data_prefix=dict(img_path=str(tmp_path / 'imgs')))
    check_dataset_paths(dict(test_dataloader=_loader(dataset)))


def test_nested_wrappers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, 'data/shapes/annotations/train.json', 'data/shapes/train/')
    good = _coco_like('data/shapes')
    bad = _coco_like('data/shapes', ann_file='annotations/lvis_train.json')
    cfg = dict(
        train_dataloader=_loader(
            dict(
                type='RepeatDataset',
                times=2,
                dataset=dict(type='ClassBalancedDataset', dataset=bad))),
        val_dataloader=_loader(
            dict(type='ConcatDataset', datasets=[good, bad])))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    msg = str(err.value)
    assert 'data/shapes/annotations/lvis_train.json' in msg
    assert 'train_dataloader.dataset.dataset.dataset.ann_file' in msg
    assert DEMO_COMMAND in msg
    # Only the wrapped good dataset: passes.
    check_dataset_paths(
        dict(train_dataloader=_loader(dict(type='RepeatDataset',
                                           dataset=dict(dataset=good)))))


def test_shapes_preset_and_custom_root(tmp_path):
    root = str(tmp_path / 'synthetic')
    cfg = dict(
        shapes_preset='tiny',
        test_dataloader=_loader(_coco_like(root + '/')))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    assert shapes_command('tiny', root) in str(err.value)

    # An explicit shapes_root wins over data_root.
    cfg = dict(
        shapes_root=str(tmp_path),
        test_dataloader=_loader(_coco_like(root)))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    assert shapes_command('demo', str(tmp_path)) in str(err.value)


def test_non_shapes_data_gives_cfg_options_hint(tmp_path):
    cfg = dict(
        train_dataloader=_loader(
            dict(
                type='ADE20KDataset',
                data_root=str(tmp_path / 'ade'),
                data_prefix=dict(
                    img_path='images/training',
                    seg_map_path='annotations/training'))))
    with pytest.raises(FileNotFoundError) as err:
        check_dataset_paths(cfg)
    msg = str(err.value)
    assert str(tmp_path / 'ade' / 'images' / 'training') in msg
    assert 'make_shapes' not in msg
    assert '--cfg-options train_dataloader.dataset.data_root=' in msg


def test_skipped_entries(tmp_path):
    cfg = dict(
        train_dataloader=_loader(
            dict(
                type='X',
                data_root='s3://bucket/coco',
                ann_file='annotations/train.json')),
        val_dataloader=_loader(dict(type='ToyDataset', ann_file='')),
        test_dataloader=None)
    check_dataset_paths(cfg)
    # keys restricts the walk.
    cfg = dict(test_dataloader=_loader(_coco_like(str(tmp_path / 'no'))))
    check_dataset_paths(cfg, keys=('train_dataloader', 'val_dataloader'))
    with pytest.raises(FileNotFoundError):
        check_dataset_paths(cfg, keys=('test_dataloader', ))
