"""Tests of the Shapes suite (``mmext.datasets.shapes``, ``make_shapes.py``).

Every test uses the ``tiny`` preset; most read the shared ``shapes_tiny``
and ``shapes_tiny_long_tail`` trees (``tests/conftest.py``). The stock
loaders (mmdet, mmseg, lvis, pycocotools) are required packages.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis import LVIS
from mmdet.datasets import CocoDataset, CocoPanopticDataset, LVISV1Dataset
from mmengine.registry import init_default_scope
from mmseg.datasets import BaseSegDataset
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmext.datasets import shapes
from mmext.datasets.shapes import generate as shapes_generate
from mmext.datasets.shapes.masks import (cut_holes, has_holes, mask_bbox,
                                         polygons, rle_encode)
from mmext.structures.panoptic import rgb2id
from mmext.testing.generators import (BAD_CLI_ARGUMENTS, check_argument_errors,
                                      check_cli_refuses, check_cli_reuse,
                                      check_cli_tiny,
                                      check_failed_runs_keep_output,
                                      check_reruns, interrupted, tree_hashes)
from mmext.testing.tools import load_tool

SPLITS = ('train', 'val')


# ----------------------------------------------------------------- helpers
def load_json(root: str, rel: str) -> Dict:
    with open(osp.join(root, rel), encoding='utf-8') as f:
        return json.load(f)


def read_panoptic_ids(root: str, split: str, file_name: str) -> np.ndarray:
    bgr = cv2.imread(
        osp.join(root, 'annotations', f'panoptic_{split}', file_name),
        cv2.IMREAD_COLOR)
    assert bgr is not None, file_name
    return rgb2id(bgr[..., ::-1])


def decode_segmentation(seg, h: int, w: int) -> np.ndarray:
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    else:
        rle = seg
    return mask_utils.decode(rle).astype(bool)


# ------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_differs(shapes_tiny, tmp_path):
    changed = check_reruns(shapes.generate_shapes, shapes_tiny, tmp_path)
    images = [k for k in tree_hashes(shapes_tiny) if k.startswith('img_dir')]
    assert set(images) <= set(changed)  # every image differs
    assert load_json(str(tmp_path / 'other'), 'meta.json')['seed'] == 1


def test_random_streams_are_order_independent():
    preset = shapes.get_preset('tiny')
    from mmext.datasets.shapes.scene import render_scene
    from mmext.datasets.shapes.seeding import stream_rng
    first = render_scene(preset, stream_rng(0, 'scene/train', 5), index=5)
    render_scene(preset, stream_rng(0, 'scene/train', 4), index=4)
    second = render_scene(preset, stream_rng(0, 'scene/train', 5), index=5)
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.object_map, second.object_map)


# --------------------------------------------------------------- structure
def test_meta_counts_match_files(shapes_tiny):
    meta = load_json(shapes_tiny, 'meta.json')
    preset = shapes.get_preset('tiny')
    assert meta['generator'] == shapes.GENERATOR_NAME
    assert meta['preset'] == 'tiny' and meta['long_tail'] is False
    assert meta['classes']['thing_classes'] == list(shapes.THING_CLASSES)
    assert meta['classes']['semantic_classes'] == list(
        shapes.SEMANTIC_CLASSES)
    counts = meta['counts']
    assert counts['images'] == dict(train=preset.num_train,
                                    val=preset.num_val)
    for split in SPLITS:
        n = counts['images'][split]
        for folder, ext in (('img_dir', '.jpg'), ('ann_dir', '.png'),
                            ('annotations/panoptic_' + split, '.png')):
            sub = folder if folder.startswith('annotations') else \
                f'{folder}/{split}'
            files = sorted(os.listdir(osp.join(shapes_tiny, sub)))
            assert len(files) == n and all(f.endswith(ext) for f in files)
        coco = load_json(shapes_tiny, f'annotations/instances_{split}.json')
        pan = load_json(shapes_tiny, f'annotations/panoptic_{split}.json')
        assert len(coco['images']) == len(pan['annotations']) == n
        assert len(coco['annotations']) == counts['instances'][split]
        assert sum(counts['class_instances'][split].values()) == \
            counts['instances'][split]
        for img in coco['images']:
            assert osp.isfile(
                osp.join(shapes_tiny, 'img_dir', split, img['file_name']))
        per_class = counts['classification'][split]
        with open(osp.join(shapes_tiny, 'classification', 'meta',
                           f'{split}.txt')) as f:
            lines = f.read().splitlines()
        assert len(lines) == sum(per_class.values())
        for label, name in enumerate(shapes.THING_CLASSES):
            folder = osp.join(shapes_tiny, 'classification', split, name)
            files = os.listdir(folder)
            assert len(files) == per_class[name] > 0
            crop = cv2.imread(osp.join(folder, files[0]))
            assert crop.shape == (preset.crop_size, preset.crop_size, 3)
            assert f'{name}/00000.png {label}' in lines
    image_ids = [img['id'] for split in SPLITS for img in load_json(
        shapes_tiny, f'annotations/instances_{split}.json')['images']]
    assert len(set(image_ids)) == len(image_ids)  # unique across splits


def test_instances_match_panoptic_masks(shapes_tiny):
    for split in SPLITS:
        coco = load_json(shapes_tiny, f'annotations/instances_{split}.json')
        pan = load_json(shapes_tiny, f'annotations/panoptic_{split}.json')
        pan_by_image = {a['image_id']: a for a in pan['annotations']}
        images = {img['id']: img for img in coco['images']}
        assert [c['id'] for c in coco['categories']] == list(range(1, 9))
        assert all(c['supercategory'] == 'shape'
                   for c in coco['categories'])
        assert len({a['id'] for a in coco['annotations']}) == len(
            coco['annotations'])
        for ann in coco['annotations']:
            img = images[ann['image_id']]
            h, w = img['height'], img['width']
            x, y, bw, bh = ann['bbox']
            assert 0 <= x and 0 <= y and bw > 0 and bh > 0
            assert x + bw <= w and y + bh <= h
            assert ann['iscrowd'] == 0 and 1 <= ann['category_id'] <= 8
            mask = decode_segmentation(ann['segmentation'], h, w)
            ids = read_panoptic_ids(shapes_tiny, split,
                                    pan_by_image[img['id']]['file_name'])
            seg_id = np.bincount(ids[mask]).argmax()
            segment = ids == seg_id
            # the annotation is exactly the visible panoptic segment
            np.testing.assert_array_equal(mask, segment)
            assert ann['bbox'] == mask_bbox(segment)
            assert ann['area'] == int(segment.sum())
            info = {s['id']: s for s in
                    pan_by_image[img['id']]['segments_info']}[seg_id]
            assert info['category_id'] == ann['category_id']


def test_panoptic_pngs_match_segments_info(shapes_tiny):
    for split in SPLITS:
        pan = load_json(shapes_tiny, f'annotations/panoptic_{split}.json')
        cats = {c['id']: c for c in pan['categories']}
        assert sorted(cats) == list(range(1, 13))
        assert [cats[i]['isthing'] for i in range(1, 13)] == [1] * 8 + [0] * 4
        for ann in pan['annotations']:
            ids = read_panoptic_ids(shapes_tiny, split, ann['file_name'])
            infos = ann['segments_info']
            seg_ids = [s['id'] for s in infos]
            assert len(set(seg_ids)) == len(seg_ids)
            # every pixel belongs to a listed segment, every segment occurs
            assert set(np.unique(ids).tolist()) == set(seg_ids)
            stuff_cats = [s['category_id'] for s in infos
                          if not cats[s['category_id']]['isthing']]
            assert len(stuff_cats) == len(set(stuff_cats)) >= 1
            for s in infos:
                mask = ids == s['id']
                assert s['area'] == int(mask.sum())
                assert s['bbox'] == mask_bbox(mask)
                assert s['iscrowd'] == 0


def test_semantic_equals_collapsed_panoptic(shapes_tiny):
    for split in SPLITS:
        pan = load_json(shapes_tiny, f'annotations/panoptic_{split}.json')
        for ann in pan['annotations']:
            ids = read_panoptic_ids(shapes_tiny, split, ann['file_name'])
            expected = np.full(ids.shape, 255, np.uint8)
            for s in ann['segments_info']:
                # semantic index = category id - 1 (things 0-7, stuff 8-11)
                expected[ids == s['id']] = s['category_id'] - 1
            sem = cv2.imread(
                osp.join(shapes_tiny, 'ann_dir', split,
                         ann['file_name']), cv2.IMREAD_UNCHANGED)
            assert sem.dtype == np.uint8 and sem.ndim == 2
            np.testing.assert_array_equal(sem, expected)


def test_enough_classes_occur(shapes_tiny):
    things, stuff = set(), set()
    for split in SPLITS:
        pan = load_json(shapes_tiny, f'annotations/panoptic_{split}.json')
        for ann in pan['annotations']:
            for s in ann['segments_info']:
                (things if s['category_id'] <= 8 else stuff).add(
                    s['category_id'])
    assert len(things) >= 6 and len(stuff) >= 3


def test_images_are_rgb_jpegs_of_preset_size(shapes_tiny):
    size = shapes.get_preset('tiny').image_size
    path = osp.join(shapes_tiny, 'img_dir', 'train', '000001.jpg')
    with open(path, 'rb') as f:
        assert f.read(2) == b'\xff\xd8'
    img = cv2.imread(path)
    assert img.shape == (size, size, 3)


# ------------------------------------------------------------ mask helpers
def test_rle_and_polygons_round_trip_through_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(1, 24, size=2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        ref = mask_utils.encode(np.asfortranarray(mask))
        assert rle_encode(mask) == dict(size=[h, w],
                                        counts=ref['counts'].decode())
        if mask.any() and not has_holes(mask):
            decoded = decode_segmentation(polygons(mask), h, w)
            np.testing.assert_array_equal(decoded, mask.astype(bool))


def test_cut_holes_opens_a_ring():
    mask = np.zeros((12, 12), np.uint8)
    cv2.circle(mask, (6, 6), 5, 1, -1)
    cv2.circle(mask, (6, 6), 2, 0, -1)
    assert has_holes(mask)
    cut = cut_holes(mask)
    assert not has_holes(cut)
    removed = mask.astype(bool) & ~cut.astype(bool)
    assert 0 < removed.sum() <= 4  # one 1-pixel slit through the rim
    assert not (cut.astype(bool) & ~mask.astype(bool)).any()


# ----------------------------------------------------------------- long tail
def test_long_tail_groups_follow_rule(shapes_tiny_long_tail):
    preset = shapes.get_preset('tiny')
    meta = load_json(shapes_tiny_long_tail, 'meta.json')
    train = load_json(shapes_tiny_long_tail, 'annotations/lvis_v1_train.json')
    val = load_json(shapes_tiny_long_tail, 'annotations/lvis_v1_val.json')
    image_counts = {c['id']: set() for c in train['categories']}
    instance_counts = {c['id']: 0 for c in train['categories']}
    for ann in train['annotations']:
        image_counts[ann['category_id']].add(ann['image_id'])
        instance_counts[ann['category_id']] += 1
        assert isinstance(ann['segmentation'], list)  # polygons only
        assert all(len(p) >= 6 and len(p) % 2 == 0
                   for p in ann['segmentation'])
    r_max, c_max = preset.lvis_thresholds
    groups = set()
    for cat in train['categories']:
        n = len(image_counts[cat['id']])
        assert cat['image_count'] == n
        assert cat['instance_count'] == instance_counts[cat['id']]
        rule = 'r' if n <= r_max else 'c' if n <= c_max else 'f'
        assert cat['frequency'] == rule == shapes.lvis_frequency(
            n, preset.lvis_thresholds)
        assert meta['lvis']['frequency'][cat['name']] == rule
        groups.add(rule)
    assert groups == {'r', 'c', 'f'}
    assert val['categories'] == train['categories']
    # the plan is realised: Zipf image counts per class (rank = class id)
    expected = shapes.zipf_image_counts(preset)
    got = [len(image_counts[i + 1]) for i in range(8)]
    assert got[1:] == expected[1:] and got[0] >= expected[0]
    # exhaustive annotation: negatives are exactly the absent classes
    for img in train['images']:
        present = {a['category_id'] for a in train['annotations']
                   if a['image_id'] == img['id']}
        assert set(img['neg_category_ids']) == set(range(1, 9)) - present
        assert img['not_exhaustive_category_ids'] == []
        assert img['coco_url'] == ('http://images.cocodataset.org/train/'
                                   f"{img['id']:06d}.jpg")
    # long-tail output keeps the COCO / panoptic / semantic files
    coco = load_json(shapes_tiny_long_tail, 'annotations/instances_train.json')
    assert len(coco['annotations']) == len(train['annotations'])


def test_uniform_output_has_no_lvis(shapes_tiny):
    assert not osp.exists(
        osp.join(shapes_tiny, 'annotations', 'lvis_v1_train.json'))


# ------------------------------------------------------------ stock loaders
def test_mmdet_coco_dataset_and_pipeline(shapes_tiny):
    init_default_scope('mmdet')
    meta = load_json(shapes_tiny, 'meta.json')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs'),
    ]
    dataset = CocoDataset(
        data_root=shapes_tiny, ann_file='annotations/instances_train.json',
        data_prefix=dict(img='img_dir/train/'),
        metainfo=shapes.det_metainfo(), pipeline=pipeline,
        filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == meta['counts']['images']['train']
    total = sum(len(dataset.get_data_info(i)['instances'])
                for i in range(len(dataset)))
    assert total == meta['counts']['instances']['train']
    sample = dataset[0]
    size = shapes.get_preset('tiny').image_size
    assert tuple(sample['inputs'].shape) == (3, size, size)
    gt = sample['data_samples'].gt_instances
    n = len(dataset.get_data_info(0)['instances'])
    assert len(gt.bboxes) == len(gt.labels) == len(gt.masks) == n > 0
    assert int(gt.labels.max()) < len(shapes.THING_CLASSES)
    # masks decoded by mmdet equal the visible pixels in the panoptic PNG
    ids = read_panoptic_ids(shapes_tiny, 'train', '000001.png')
    for mask in gt.masks.masks:
        seg_id = np.bincount(ids[mask.astype(bool)]).argmax()
        np.testing.assert_array_equal(mask.astype(bool), ids == seg_id)


def test_ground_truth_as_detections_scores_ap_1(shapes_tiny):
    """The instances file is valid input to pycocotools' COCOeval."""
    coco = COCO(osp.join(shapes_tiny, 'annotations/instances_val.json'))
    dets = [dict(image_id=a['image_id'], category_id=a['category_id'],
                 bbox=a['bbox'], segmentation=a['segmentation'], score=1.0)
            for a in coco.dataset['annotations']]
    for iou_type in ('bbox', 'segm'):
        evaluator = COCOeval(coco, coco.loadRes([dict(d) for d in dets]),
                             iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        assert evaluator.stats[0] == pytest.approx(1.0)


def test_mmdet_coco_panoptic_dataset_parses(shapes_tiny):
    init_default_scope('mmdet')
    dataset = CocoPanopticDataset(
        data_root=shapes_tiny, ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='img_dir/val/',
                         seg='annotations/panoptic_val/'),
        metainfo=shapes.panoptic_metainfo(), pipeline=[],
        filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == shapes.get_preset('tiny').num_val
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert osp.isfile(info['img_path'])
        assert osp.isfile(info['seg_map_path'])
        for seg in info['segments_info']:
            # contiguous labels are the semantic indices
            assert seg['is_thing'] == (seg['category'] < 8)
            assert seg['id'] // 1000 == seg['category'] + 1


def test_mmseg_dataset_labels(shapes_tiny):
    init_default_scope('mmseg')
    dataset = BaseSegDataset(
        data_root=shapes_tiny, img_suffix='.jpg', seg_map_suffix='.png',
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        metainfo=shapes.seg_metainfo(),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations')])
    assert len(dataset) == shapes.get_preset('tiny').num_train
    assert dataset.metainfo['classes'] == shapes.SEMANTIC_CLASSES
    seen = set()
    for i in range(len(dataset)):
        result = dataset[i]
        label = result['gt_seg_map']
        expected = cv2.imread(result['seg_map_path'], cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(label, expected)
        seen |= set(np.unique(label).tolist())
    assert seen <= set(range(len(shapes.SEMANTIC_CLASSES)))
    assert len(seen & set(range(8))) >= 6 and len(seen - set(range(8))) >= 3


def test_lvis_api_and_mmdet_lvis_dataset(shapes_tiny_long_tail):
    init_default_scope('mmdet')
    for split in SPLITS:
        ann_file = osp.join(shapes_tiny_long_tail,
                            f'annotations/lvis_v1_{split}.json')
        api = LVIS(ann_file)
        assert sorted(api.get_cat_ids()) == list(range(1, 9))
        ann = api.load_anns([api.get_ann_ids()[0]])[0]
        mask = api.ann_to_mask(ann)
        assert 0.9 * ann['area'] <= mask.sum() <= ann['area']
        dataset = LVISV1Dataset(
            data_root=shapes_tiny_long_tail,
            ann_file=f'annotations/lvis_v1_{split}.json',
            data_prefix=dict(img='img_dir/'), metainfo=shapes.det_metainfo(),
            pipeline=[], filter_cfg=dict(filter_empty_gt=False))
        assert len(dataset) == len(api.get_img_ids())
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            assert osp.isfile(info['img_path']), info['img_path']
            assert osp.dirname(info['img_path']).endswith(
                osp.join('img_dir', split))


# ---------------------------------------------------------------------- CLI
@pytest.mark.parametrize('argv, field', BAD_CLI_ARGUMENTS)
def test_cli_bad_arguments_exit_2(argv, field, tmp_path, capsys):
    check_cli_refuses(load_tool('misc/make_shapes.py').main, argv, field,
                      tmp_path, capsys)


def test_cli_tiny_is_fast_torch_free_atomic_and_rerunnable(shapes_tiny,
                                                           tmp_path):
    # target < 3 s; loose here because the machine is shared
    printed = check_cli_tiny('misc/make_shapes.py', shapes_tiny, tmp_path,
                             max_seconds=10)
    assert all('Shapes tiny (seed 0)' in text for text in printed)


def test_cli_reuse_keeps_current_output(tmp_path, capsys):
    cli = load_tool('misc/make_shapes.py')
    out = str(tmp_path / 'out')
    assert cli.main(['--preset', 'tiny', '--out', out]) == 0
    check_cli_reuse(cli.main, shapes.read_meta, out, capsys)


def test_failed_run_leaves_previous_output_intact(shapes_tiny, tmp_path,
                                                  monkeypatch):
    out = shutil.copytree(shapes_tiny, str(tmp_path / 'out'))
    monkeypatch.setattr(shapes_generate, 'write_crops', interrupted)
    check_failed_runs_keep_output(shapes.generate_shapes, out)


def test_library_argument_errors_name_the_field(tmp_path):
    check_argument_errors(shapes.generate_shapes, tmp_path)
