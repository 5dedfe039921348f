"""Tests for mmext.CocoPanopticMetric on the tiny Shapes suite.

Predictions are the ground truth converted to mmdet's panoptic format
(``label + instance * 1000``, VOID = number of classes); the expected drops
after corrupting a segment are computed from the per-class segment counts.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmext.datasets.shapes import panoptic_metainfo
from mmext.evaluation import panoptic_quality
from mmext.evaluation.metrics import CocoPanopticMetric
from mmext.evaluation.panoptic_format import (mmdet_pred_to_segments,
                                              read_panoptic_png)

META = panoptic_metainfo()
NUM_CLASSES = len(META['classes'])
KEYS = ['PQ', 'SQ', 'RQ', 'PQ_th', 'SQ_th', 'RQ_th', 'PQ_st', 'SQ_st',
        'RQ_st']


def _paths(root):
    return (osp.join(root, 'annotations', 'panoptic_val.json'),
            osp.join(root, 'annotations', 'panoptic_val'))


def _gt(root):
    ann_file, seg_dir = _paths(root)
    with open(ann_file) as f:
        coco = json.load(f)
    return coco, seg_dir


def _label(cat_id):
    """Shapes: categories 1..12 are classes 0..11 (things then stuff)."""
    return cat_id - 1


def gt_as_predictions(root):
    """One mmdet-style output dict per val image, equal to the GT."""
    coco, seg_dir = _gt(root)
    cats = {c['id']: c for c in coco['categories']}
    samples = []
    for ann in coco['annotations']:
        ids = read_panoptic_png(osp.join(seg_dir, ann['file_name']))
        pan = np.full(ids.shape, NUM_CLASSES, np.int64)  # VOID
        count = {}
        for s in ann['segments_info']:
            label = _label(s['category_id'])
            inst = 0
            if cats[s['category_id']]['isthing']:
                inst = count[label] = count.get(label, 0) + 1
            pan[ids == s['id']] = label + inst * 1000
        samples.append(dict(
            img_id=ann['image_id'],
            img_path=osp.join(root, 'img_dir', 'val',
                              ann['file_name'].replace('.png', '.jpg')),
            pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pan[None]))))
    return samples


def _metric(root, **kwargs):
    ann_file, seg_dir = _paths(root)
    metric = CocoPanopticMetric(ann_file=ann_file, seg_prefix=seg_dir,
                                **kwargs)
    metric.dataset_meta = META
    return metric


def _evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def _segment_counts(root):
    """Non-crowd GT segments per category over the val split."""
    coco, _ = _gt(root)
    counts = {}
    for ann in coco['annotations']:
        for s in ann['segments_info']:
            counts[s['category_id']] = counts.get(s['category_id'], 0) + 1
    return counts


def test_ground_truth_as_prediction_scores_100(shapes_tiny):
    out = _evaluate(_metric(shapes_tiny, classwise=True),
                    gt_as_predictions(shapes_tiny))
    assert sorted(out) == sorted(f'coco_panoptic/{k}' for k in KEYS)
    for key in KEYS:
        assert out[f'coco_panoptic/{key}'] == pytest.approx(100.0)


def _first_thing(samples):
    """(sample index, pan value) of the first thing segment."""
    for i, s in enumerate(samples):
        values = np.unique(s['pred_panoptic_seg']['sem_seg'].numpy())
        things = [v for v in values if v >= 1000]
        if things:
            return i, int(things[0])
    raise AssertionError('no thing in the val split')


def test_segment_predicted_void_drops_pq_by_hand_computed_amount(shapes_tiny):
    # One thing segment of class c becomes VOID: its GT segment is a FN,
    # nothing else changes (VOID predictions are neither TP nor FP).
    # Class c: TP = T_c - 1, FN = 1 ->
    #   PQ_c = (T_c - 1) / (T_c - 1 + 0.5), SQ_c = 1 (0 if T_c = 1),
    #   RQ_c = PQ_c.
    # Every other class keeps 1, so with n classes (n_th things):
    #   PQ = (n - 1 + PQ_c) / n, PQ_th = (n_th - 1 + PQ_c) / n_th.
    samples = gt_as_predictions(shapes_tiny)
    i, value = _first_thing(samples)
    sem = samples[i]['pred_panoptic_seg']['sem_seg']
    sem[sem == value] = NUM_CLASSES
    counts = _segment_counts(shapes_tiny)
    t_c = counts[value % 1000 + 1]
    pq_c = (t_c - 1) / (t_c - 0.5)
    sq_c = 1.0 if t_c > 1 else 0.0
    n = len(counts)
    n_th = sum(1 for c in counts if c <= 8)
    out = _evaluate(_metric(shapes_tiny), samples)
    get = {k: out[f'coco_panoptic/{k}'] for k in KEYS}
    assert get['PQ'] == pytest.approx(100 * (n - 1 + pq_c) / n)
    assert get['RQ'] == pytest.approx(100 * (n - 1 + pq_c) / n)
    assert get['SQ'] == pytest.approx(100 * (n - 1 + sq_c) / n)
    assert get['PQ_th'] == pytest.approx(100 * (n_th - 1 + pq_c) / n_th)
    assert get['PQ_st'] == pytest.approx(100.0)


def test_relabelled_segment_is_fn_and_fp(shapes_tiny):
    # A thing of class c relabelled to class d (d != c): class c gets a FN
    # (TP = T_c - 1), class d a FP (TP = T_d, which may be 0 and then adds
    # a class to the average):
    #   PQ_c = (T_c - 1) / (T_c - 0.5), PQ_d = T_d / (T_d + 0.5).
    samples = gt_as_predictions(shapes_tiny)
    i, value = _first_thing(samples)
    label_c = value % 1000
    label_d = (label_c + 1) % 8
    sem = samples[i]['pred_panoptic_seg']['sem_seg']
    sem[sem == value] = label_d + 999 * 1000  # a fresh instance of d
    counts = _segment_counts(shapes_tiny)
    t_c, t_d = counts[label_c + 1], counts.get(label_d + 1, 0)
    per_class = {c: 1.0 for c in counts}
    per_class[label_c + 1] = (t_c - 1) / (t_c - 0.5)
    per_class[label_d + 1] = t_d / (t_d + 0.5)
    expected = np.mean(list(per_class.values()))
    out = _evaluate(_metric(shapes_tiny), samples)
    assert out['coco_panoptic/PQ'] == pytest.approx(100 * expected)


def test_outfile_prefix_writes_coco_panoptic_that_reads_back(shapes_tiny,
                                                             tmp_path):
    samples = gt_as_predictions(shapes_tiny)
    i, value = _first_thing(samples)
    sem = samples[i]['pred_panoptic_seg']['sem_seg']
    sem[sem == value] = NUM_CLASSES  # make it less than perfect
    prefix = str(tmp_path / 'out' / 'results')
    out = _evaluate(_metric(shapes_tiny, outfile_prefix=prefix), samples)
    assert out['coco_panoptic/PQ'] < 100

    with open(prefix + '.panoptic.json') as f:
        pred_json = json.load(f)
    coco, seg_dir = _gt(shapes_tiny)
    assert pred_json['categories'] == coco['categories']
    preds = {a['image_id']: a for a in pred_json['annotations']}
    assert sorted(preds) == sorted(a['image_id'] for a in coco['annotations'])
    read_back = []
    for ann in coco['annotations']:
        pred = preds[ann['image_id']]
        assert pred['file_name'] == ann['file_name']
        pred_ids = read_panoptic_png(
            osp.join(prefix + '.panoptic', pred['file_name']))
        for s in pred['segments_info']:
            mask = pred_ids == s['id']
            ys, xs = np.nonzero(mask)
            assert s['area'] == mask.sum() > 0
            assert s['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                 ys.max() - ys.min() + 1]
            assert s['iscrowd'] == 0
        gt_ids = read_panoptic_png(osp.join(seg_dir, ann['file_name']))
        read_back.append((gt_ids, ann['segments_info'], pred_ids,
                          pred['segments_info']))
    pq = panoptic_quality(read_back, coco['categories'])
    assert out['coco_panoptic/PQ'] == pytest.approx(100 * pq['All']['pq'])
    assert out['coco_panoptic/SQ_th'] == pytest.approx(
        100 * pq['Things']['sq'])
    # no temporary files are left behind
    assert not [n for n in (tmp_path / 'out').iterdir()
                if n.name.startswith('.tmp-')]


def test_format_only_writes_without_ground_truth_pngs(shapes_tiny, tmp_path):
    ann_file, _ = _paths(shapes_tiny)
    prefix = str(tmp_path / 'results')
    metric = CocoPanopticMetric(ann_file=ann_file, format_only=True,
                                outfile_prefix=prefix)
    metric.dataset_meta = META
    samples = gt_as_predictions(shapes_tiny)
    assert _evaluate(metric, samples) == {}
    with open(prefix + '.panoptic.json') as f:
        assert len(json.load(f)['annotations']) == len(samples)


def test_argument_and_input_errors(shapes_tiny):
    ann_file, seg_dir = _paths(shapes_tiny)
    with pytest.raises(ValueError, match='ann_file is required'):
        CocoPanopticMetric(seg_prefix=seg_dir)
    with pytest.raises(ValueError, match='seg_prefix is required'):
        CocoPanopticMetric(ann_file=ann_file)
    with pytest.raises(ValueError, match='format_only=True needs'):
        CocoPanopticMetric(ann_file=ann_file, format_only=True)
    samples = gt_as_predictions(shapes_tiny)[:1]
    metric = _metric(shapes_tiny)
    with pytest.raises(ValueError, match='image id 123456 has no annotation'):
        metric.process(None, [dict(samples[0], img_id=123456)])
    sem = samples[0]['pred_panoptic_seg']['sem_seg']
    bad = sem.clone()
    bad[0, 0, 0] = 50  # label 50: neither a class nor VOID
    with pytest.raises(ValueError, match='label 50'):
        metric.process(None, [dict(samples[0],
                                   pred_panoptic_seg=dict(sem_seg=bad))])
    small = dict(samples[0],
                 pred_panoptic_seg=dict(sem_seg=sem[:, :10, :10]))
    with pytest.raises(ValueError, match='image_id=.*differ in shape'):
        metric.process(None, [small])


def test_mmdet_pred_to_segments_renumbers_and_maps_categories():
    # label 0 instance 0 (a stuff of label 0) must not become VOID's id 0
    pan = np.array([[0, 0, 1001, 2],
                    [3, 3, 1001, 2]])
    ids, segs = mmdet_pred_to_segments(pan, num_classes=3,
                                       label2cat={0: 7, 1: 8, 2: 9})
    np.testing.assert_array_equal(ids, [[1, 1, 3, 2], [0, 0, 3, 2]])
    assert segs == [dict(id=1, category_id=7), dict(id=2, category_id=9),
                    dict(id=3, category_id=8)]


def test_classes_map_to_categories_by_name(shapes_tiny):
    # dataset classes in another order than the file's categories: label i
    # is the category named classes[i]
    samples = gt_as_predictions(shapes_tiny)
    perm = list(range(NUM_CLASSES))[::-1]  # new label of old label
    for s in samples:
        sem = s['pred_panoptic_seg']['sem_seg']
        label, inst = sem % 1000, sem // 1000
        void = label == NUM_CLASSES
        new = torch.tensor(perm)[label.clamp(max=NUM_CLASSES - 1)]
        s['pred_panoptic_seg']['sem_seg'] = torch.where(
            void, sem, new + inst * 1000)
    metric = _metric(shapes_tiny)
    metric.dataset_meta = dict(META, classes=META['classes'][::-1])
    out = _evaluate(metric, samples)
    assert out['coco_panoptic/PQ'] == pytest.approx(100.0)


def test_tools_test_style_evaluator_with_mmdet_scope(shapes_tiny):
    from mmdet.datasets import CocoPanopticDataset
    from mmdet.structures import DetDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope
    from mmengine.structures import PixelData

    ann_file, seg_dir = _paths(shapes_tiny)
    dataset = CocoPanopticDataset(
        data_root=shapes_tiny, ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='img_dir/val/', seg='annotations/panoptic_val/'),
        metainfo=META, test_mode=True, pipeline=[])
    preds = {s['img_id']: s for s in gt_as_predictions(shapes_tiny)}
    assert len(dataset) == len(preds) == 8
    data_samples = []
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        sample = DetDataSample(metainfo=dict(img_id=info['img_id'],
                                             img_path=info['img_path']))
        sample.pred_panoptic_seg = PixelData(
            sem_seg=preds[info['img_id']]['pred_panoptic_seg']['sem_seg'])
        data_samples.append(sample)
    with DefaultScope.overwrite_default_scope('mmdet'):
        evaluator = Evaluator(dict(type='mmext.CocoPanopticMetric',
                                   ann_file=ann_file, seg_prefix=seg_dir))
    assert type(evaluator.metrics[0]) is CocoPanopticMetric
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(data_samples[:5])
    evaluator.process(data_samples[5:])
    out = evaluator.evaluate(len(data_samples))
    assert out['coco_panoptic/PQ'] == pytest.approx(100.0)


def _ddp_evaluate(rank, world_size, root, corrupt):
    samples = gt_as_predictions(root)
    if corrupt:
        i, value = _first_thing(samples)
        sem = samples[i]['pred_panoptic_seg']['sem_seg']
        sem[sem == value] = NUM_CLASSES
    samples = samples[:7]  # odd: rank 1 gets a padding sample
    num = len(samples)
    total = -(-num // world_size) * world_size  # DefaultSampler padding
    indices = [i % num for i in range(total)][rank::world_size]
    metric = _metric(root)
    metric.process(None, [samples[i] for i in indices])
    return metric.evaluate(num)


def test_two_ranks_equal_one_process(shapes_tiny):
    from mmext.testing import run_distributed
    single = _ddp_evaluate(0, 1, shapes_tiny, True)
    assert single['coco_panoptic/PQ'] < 100
    results = run_distributed(_ddp_evaluate, world_size=2,
                              args=(shapes_tiny, True))
    assert results[0] == results[1]
    for key, value in single.items():
        assert results[0][key] == pytest.approx(value, abs=1e-9)
