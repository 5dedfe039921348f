"""mmext.RIORoIHead: without banked entries it is mmdet's StandardRoIHead;
replayed entries join the loss and train only fc_cls/fc_reg; the banks
travel in the state dict; bad settings are clear errors."""

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from mmext.models.det import RIORoIHead


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Build as a user's mmdet config does (``default_scope='mmdet'``),
    whatever scope an earlier test left current."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield

NUM_CLASSES = 4


def _head_cfg(**overrides):
    cfg = dict(
        type='mmext.RIORoIHead',
        memory_classes=[1, 2],
        memory_capacity=6,
        memory_replay=3,
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=8,
            featmap_strides=[4]),
        bbox_head=dict(
            type='mmdet.Shared2FCBBoxHead',
            in_channels=8,
            fc_out_channels=16,
            roi_feat_size=7,
            num_classes=NUM_CLASSES,
            bbox_coder=dict(
                type='mmdet.DeltaXYWHBBoxCoder',
                target_means=[0.0] * 4,
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='mmdet.CrossEntropyLoss', loss_weight=1.0),
            loss_bbox=dict(type='mmdet.L1Loss', loss_weight=1.0)),
        train_cfg=ConfigDict(
            assigner=dict(
                type='mmdet.MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                ignore_iof_thr=-1),
            sampler=dict(
                type='mmdet.RandomSampler',
                num=16,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False))
    cfg.update(overrides)
    return cfg


def _inputs(labels=((1, 3), (2, 0)), seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = (torch.randn(2, 8, 16, 16, generator=g), )
    proposals, samples = [], []
    for image_labels in labels:
        gt = torch.tensor([[4.0, 4.0, 30.0, 30.0], [30.0, 20.0, 60.0, 50.0]
                           ])[:len(image_labels)]
        jitter = torch.rand(12, 4, generator=g) * 6 - 3
        boxes = gt.repeat(6, 1)[:12] + jitter
        boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 2)
        proposals.append(InstanceData(bboxes=boxes.clamp(0, 63)))
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64)))
        sample.gt_instances = InstanceData(
            bboxes=gt, labels=torch.tensor(image_labels))
        samples.append(sample)
    return feats, proposals, samples


def _build(**overrides):
    torch.manual_seed(0)
    head = MODELS.build(_head_cfg(**overrides))
    head.init_weights()
    return head


def _loss(head, seed=0, labels=((1, 3), (2, 0))):
    feats, proposals, samples = _inputs(labels, seed)
    torch.manual_seed(100 + seed)  # the RoI sampler's draw
    return head.loss(feats, proposals, samples)


def test_empty_bank_is_the_standard_head():
    rio = _build()
    standard_cfg = _head_cfg(type='mmdet.StandardRoIHead')
    for key in ('memory_classes', 'memory_capacity', 'memory_replay'):
        standard_cfg.pop(key)
    standard = MODELS.build(standard_cfg)
    standard.load_state_dict(
        {k: v for k, v in rio.state_dict().items() if 'extra_state' not in k})
    ours, theirs = _loss(rio), _loss(standard)
    for key in ('loss_cls', 'loss_bbox'):
        torch.testing.assert_close(ours[key], theirs[key])
    assert len(rio.memory) > 0  # classes 1 and 2 were banked


def test_roi_features_are_what_fc_cls_sees():
    head = _build()
    feats, _, _ = _inputs()
    rois = torch.tensor([[0, 2.0, 2.0, 20.0, 20.0], [1, 10.0, 5.0, 50.0,
                                                     40.0]])
    results, features = head._forward_with_roi_features(feats, rois)
    torch.testing.assert_close(head.bbox_head.fc_cls(features),
                               results['cls_score'])
    assert features.shape == (2, 16)


def test_replay_trains_only_the_final_layers():
    head = _build()
    _loss(head, seed=0)  # fills the banks for classes 1 and 2
    banked = head.memory.state_dict()

    def grads(bank_state):
        head.memory.load_state_dict(bank_state)
        head.zero_grad()
        losses = _loss(head, seed=1)
        (losses['loss_cls'] + losses['loss_bbox']).backward()
        return {
            n: p.grad.clone()
            for n, p in head.named_parameters() if p.grad is not None
        }

    first = grads(banked)
    other = banked.clone()
    other[:, 1:1 + head.memory.feature_dim] += 1.0  # other features
    second = grads(other)
    for name in first:
        same = torch.allclose(first[name], second[name], atol=1e-6)
        if name in ('bbox_head.fc_cls.weight', 'bbox_head.fc_reg.weight'):
            assert not same, name  # replayed features train these ...
        elif not name.startswith(('bbox_head.fc_cls', 'bbox_head.fc_reg')):
            assert same, name  # ... and nothing before them


def test_banks_travel_in_the_state_dict():
    head = _build()
    _loss(head)
    state = head.state_dict()
    assert any(k.endswith('_extra_state') for k in state)
    fresh = _build()
    assert len(fresh.memory) == 0
    fresh.load_state_dict(state)
    for c in (1, 2):
        assert torch.equal(fresh.memory.features[c], head.memory.features[c])


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r'memory_classes: \[7\]'):
        _build(memory_classes=[1, 7])
    cfg = _head_cfg()
    cfg['bbox_head'] = dict(
        cfg['bbox_head'],
        type='mmdet.ConvFCBBoxHead',
        num_shared_fcs=1,
        num_cls_fcs=1)
    with pytest.raises(ValueError, match='shared FCs only'):
        MODELS.build(cfg)
    assert RIORoIHead is MODELS.get('mmext.RIORoIHead')


def _write_lvis_categories(path) -> None:
    """An LVIS file whose memory classes (rare, or common with <= 30
    images) are the labels 1 and 2."""
    import json
    path.write_text(
        json.dumps(
            dict(categories=[
                dict(id=i + 1, frequency=f, image_count=n)
                for i, (f, n) in enumerate([('f', 500), ('r', 2), ('c', 12),
                                            ('c', 90)])
            ])))


def test_memory_classes_from_an_lvis_file(tmp_path):
    path = tmp_path / 'lvis.json'
    _write_lvis_categories(path)
    head = _build(memory_classes=str(path))
    assert head.memory.target_classes == [1, 2]


def test_an_annotation_file_is_read_only_when_the_banks_are_needed(tmp_path):
    path = tmp_path / 'lvis_v1_train.json'
    head = _build(memory_classes=str(path))  # builds: inference needs no file
    with pytest.raises(FileNotFoundError, match='lvis_v1_train.json'):
        head.memory
    trained = _build()
    _loss(trained)
    # A checkpoint's banks are kept aside (and saved again) until the
    # classes are read ...
    head.load_state_dict(trained.state_dict())
    assert torch.equal(head.state_dict()['_extra_state'],
                       trained.state_dict()['_extra_state'])
    # ... then they fill the banks.
    _write_lvis_categories(path)
    assert head.memory.target_classes == [1, 2]
    assert len(head.memory) == len(trained.memory) > 0
    assert torch.equal(head.memory.features[1], trained.memory.features[1])
