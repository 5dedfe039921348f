"""Tests for mmext.LoadPanopticAnnotations (no panopticapi needed).

mmdet's ``CocoPanopticDataset`` loads without panopticapi, so the transform
runs in its real pipeline on a generated Shapes split; the semantic maps the
generator writes separately (``ann_dir``) are the independent reference.
"""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mmext.datasets.shapes import panoptic_metainfo
from mmext.datasets.transforms import LoadPanopticAnnotations
from mmext.structures.panoptic import id2rgb, rgb2id


def _dataset(root, **load_cfg):
    from mmdet.datasets import CocoPanopticDataset
    return CocoPanopticDataset(
        data_root=root, ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='img_dir/val/', seg='annotations/panoptic_val/'),
        metainfo=panoptic_metainfo(), test_mode=True,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='mmext.LoadPanopticAnnotations', **load_cfg)])


def test_rgb_id_codec_round_trips():
    ids = np.array([[0, 1, 255], [256, 65536, 256**3 - 1]])
    rgb = id2rgb(ids)
    assert rgb.dtype == np.uint8 and rgb[1, 0].tolist() == [0, 1, 0]
    np.testing.assert_array_equal(rgb2id(rgb), ids)
    with pytest.raises(ValueError, match='256'):
        id2rgb(np.array([[256**3]]))


def test_shapes_sample_matches_png_json_and_semantic_map(shapes_tiny):
    from mmdet.structures.bbox import HorizontalBoxes
    from mmdet.structures.mask import BitmapMasks
    dataset = _dataset(shapes_tiny)
    with open(osp.join(shapes_tiny, 'annotations', 'panoptic_val.json')) as f:
        anns = {a['image_id']: a for a in json.load(f)['annotations']}
    num_things = 0
    for idx in range(len(dataset)):
        results = dataset[idx]
        ann = anns[results['img_id']]
        png = cv2.imread(results['seg_map_path'])[..., ::-1]
        ids = rgb2id(png)
        things = [s for s in ann['segments_info'] if s['category_id'] <= 8]
        num_things += len(things)
        # semantic map: equal to the generator's own ann_dir map
        sem = cv2.imread(
            osp.join(shapes_tiny, 'ann_dir', 'val',
                     f"{ann['image_id']:06d}.png"),
            cv2.IMREAD_UNCHANGED)
        assert results['gt_seg_map'].dtype == np.uint8
        np.testing.assert_array_equal(results['gt_seg_map'], sem)
        # thing masks, labels, boxes: JSON order, PNG pixels
        masks = results['gt_masks']
        assert isinstance(masks, BitmapMasks)
        assert masks.masks.shape == (len(things), ) + ids.shape
        for mask, s in zip(masks.masks, things):
            np.testing.assert_array_equal(mask, ids == s['id'])
        np.testing.assert_array_equal(results['gt_bboxes_labels'],
                                      [s['category_id'] - 1 for s in things])
        assert isinstance(results['gt_bboxes'], HorizontalBoxes)
        expected_boxes = [[x, y, x + w, y + h]
                          for x, y, w, h in (s['bbox'] for s in things)]
        np.testing.assert_allclose(results['gt_bboxes'].numpy(),
                                   np.reshape(expected_boxes, (-1, 4)))
        assert not results['gt_ignore_flags'].any()
    assert num_things > 0


def _write_crowd_case(tmp_path):
    """3x4 panoptic PNG: VOID, a thing, a crowd thing and a stuff."""
    ids = np.array([[0, 5, 5, 7],
                    [0, 5, 5, 7],
                    [9, 9, 9, 9]])
    path = str(tmp_path / 'pan.png')
    cv2.imwrite(path, id2rgb(ids)[..., ::-1])
    # as CocoPanopticDataset describes them: the crowd thing has
    # is_thing False and no instance
    results = dict(
        seg_map_path=path, ori_shape=ids.shape,
        segments_info=[dict(id=5, category=0, is_thing=True),
                       dict(id=7, category=1, is_thing=False),
                       dict(id=9, category=3, is_thing=False)],
        instances=[dict(bbox=[1, 0, 3, 2], bbox_label=0, ignore_flag=0)])
    return ids, results


def test_void_crowd_and_stuff(tmp_path):
    ids, results = _write_crowd_case(tmp_path)
    out = LoadPanopticAnnotations()(results)
    np.testing.assert_array_equal(out['gt_seg_map'], [[255, 0, 0, 1],
                                                      [255, 0, 0, 1],
                                                      [3, 3, 3, 3]])
    assert len(out['gt_masks']) == 1
    np.testing.assert_array_equal(out['gt_masks'].masks[0], ids == 5)
    assert out['gt_bboxes_labels'].tolist() == [0]


def test_with_flags_and_missing_seg_map(tmp_path):
    _, results = _write_crowd_case(tmp_path)
    out = LoadPanopticAnnotations(with_mask=False, with_bbox=False,
                                  with_label=False)(dict(results))
    assert 'gt_masks' not in out and 'gt_bboxes' not in out
    assert 'gt_bboxes_labels' not in out and 'gt_seg_map' in out
    out = LoadPanopticAnnotations(with_seg=False)(dict(results))
    assert 'gt_seg_map' not in out and 'gt_masks' in out
    out = LoadPanopticAnnotations()(dict(results, seg_map_path=None))
    assert 'gt_masks' not in out and 'gt_seg_map' not in out
    assert len(out['gt_bboxes']) == 1
    bad = dict(results, segments_info=[dict(id=5, category=300)])
    with pytest.raises(ValueError, match='label 300'):
        LoadPanopticAnnotations()(bad)
