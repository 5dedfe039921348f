"""mmext.LVISMetric: mmdet's LVIS metric on generated long-tailed Shapes
files with the PyPI lvis package and numpy >= 1.24; perfect boxes score
AP 1 in every frequency group, and numpy is left as it was."""
import json

import numpy as np
import pytest
import torch

from mmext.evaluation.metrics import LVISMetric


def _samples(ann):
    by_image = {}
    for a in ann['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    cat_ids = sorted(c['id'] for c in ann['categories'])
    samples = []
    for image in ann['images']:
        anns = by_image.get(image['id'], [])
        boxes = torch.tensor([[x, y, x + w, y + h]
                              for x, y, w, h in (a['bbox'] for a in anns)],
                             dtype=torch.float32).reshape(-1, 4)
        samples.append(
            dict(
                img_id=image['id'],
                ori_shape=(image['height'], image['width']),
                pred_instances=dict(
                    bboxes=boxes,
                    scores=torch.ones(len(anns)),
                    labels=torch.tensor(
                        [cat_ids.index(a['category_id']) for a in anns],
                        dtype=torch.long))))
    return samples


def test_perfect_boxes_score_one(shapes_tiny_long_tail):
    ann_file = f'{shapes_tiny_long_tail}/annotations/lvis_v1_val.json'
    with open(ann_file) as handle:
        ann = json.load(handle)
    metric = LVISMetric(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(
        classes=tuple(c['name'] for c in sorted(ann['categories'],
                                                key=lambda c: c['id'])))
    metric.process({}, _samples(ann))
    results = metric.evaluate(len(ann['images']))
    assert results['lvis/bbox_AP'] == pytest.approx(1.0)
    for group in ('APr', 'APc', 'APf'):
        value = results[f'lvis/bbox_{group}']
        assert value == pytest.approx(1.0) or value == -1.0  # -1: empty
    assert 'float' not in np.__dict__  # the alias was only temporary
