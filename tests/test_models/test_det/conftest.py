"""Fixtures of the detection tests: DICOD's tiny classification teachers."""
import os.path as osp
from typing import Callable, Sequence

import pytest
import torch

#: The detectors' normalisation (mmdet's ImageNet mean and std, RGB).
DET_MEAN = [123.675, 116.28, 103.53]
DET_STD = [58.395, 57.12, 57.375]


def tiny_teacher_cfg(num_classes: int = 8,
                     std: Sequence[float] = tuple(DET_STD)) -> dict:
    """mmpretrain's ImageClassifier with a ResNet-18 at 1/8 width."""
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=64),
        data_preprocessor=dict(mean=DET_MEAN, std=list(std), to_rgb=True))


@pytest.fixture(scope='session')
def dicod_teacher(tmp_path_factory) -> Callable[..., tuple]:
    """``make(num_classes=8, std=DET_STD) -> (teacher_cfg, ckpt_path)``: a
    randomly initialised tiny teacher saved as a runner checkpoint."""
    root = tmp_path_factory.mktemp('dicod_teachers')

    def make(num_classes: int = 8,
             std: Sequence[float] = tuple(DET_STD)) -> tuple:
        from mmext.models.det.dicod.teacher import teacher_model_cfg
        from mmext.registry import MODELS
        cfg = tiny_teacher_cfg(num_classes, std)
        path = osp.join(str(root), f'teacher_{num_classes}_{std[0]}.pth')
        if not osp.exists(path):
            torch.manual_seed(0)
            model = MODELS.build(teacher_model_cfg(cfg))
            model.init_weights()
            torch.save(dict(state_dict=model.state_dict(), meta=dict()),
                       path)
        return cfg, path

    return make


# ------------------------------------------ tiny detectors (AL-SSL tests)
def _tiny_detector_cfg(family: str, num_classes: int = 8) -> dict:
    """A stock mmdet detector config at a tiny width (ResNet-18 with 8
    base channels, levels at strides 8, 16 and 32, batches padded to 32)."""
    backbone = dict(type='ResNet', depth=18, base_channels=8,
                    out_indices=(1, 2, 3), frozen_stages=-1,
                    norm_eval=False, init_cfg=None)
    preprocessor = dict(type='DetDataPreprocessor', mean=DET_MEAN,
                        std=DET_STD, bgr_to_rgb=True, pad_size_divisor=32)
    coder = dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                 target_stds=[0.1, 0.1, 0.2, 0.2])
    if family == 'ssd':
        return dict(
            type='SingleStageDetector', data_preprocessor=preprocessor,
            backbone=backbone,
            bbox_head=dict(
                type='SSDHead', num_classes=num_classes,
                in_channels=(16, 32, 64),
                anchor_generator=dict(
                    type='SSDAnchorGenerator', scale_major=False,
                    min_sizes=[16, 40, 80], max_sizes=[40, 80, 120],
                    strides=[8, 16, 32], ratios=[[2], [2], [2]]),
                bbox_coder=coder),
            train_cfg=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                              neg_iou_thr=0.5, min_pos_iou=0.,
                              ignore_iof_thr=-1, gt_max_assign_all=False),
                sampler=dict(type='PseudoSampler'), smoothl1_beta=1.,
                allowed_border=-1, pos_weight=-1, neg_pos_ratio=3,
                debug=False),
            test_cfg=dict(nms_pre=1000, nms=dict(type='nms',
                                                 iou_threshold=0.45),
                          min_bbox_size=0, score_thr=0.02, max_per_img=100))
    neck = dict(type='FPN', in_channels=[16, 32, 64], out_channels=16,
                num_outs=3)
    if family == 'retinanet':
        return dict(
            type='RetinaNet', data_preprocessor=preprocessor,
            backbone=backbone, neck=neck,
            bbox_head=dict(
                type='RetinaHead', num_classes=num_classes, in_channels=16,
                stacked_convs=1, feat_channels=16,
                anchor_generator=dict(
                    type='AnchorGenerator', octave_base_scale=4,
                    scales_per_octave=2, ratios=[0.5, 1.0, 2.0],
                    strides=[8, 16, 32], center_offset=0.5),
                bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                                target_means=[0., 0., 0., 0.],
                                target_stds=[1., 1., 1., 1.]),
                loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                              alpha=0.25, loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
            train_cfg=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                              neg_iou_thr=0.4, min_pos_iou=0,
                              ignore_iof_thr=-1),
                sampler=dict(type='PseudoSampler'), allowed_border=-1,
                pos_weight=-1, debug=False),
            test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                          nms=dict(type='nms', iou_threshold=0.5),
                          max_per_img=100))
    if family == 'faster_rcnn':
        from mmext.apis.inference import load_config
        base = load_config('mmdet::_base_/models/faster-rcnn_r50_fpn.py'
                           ).model.to_dict()
        base.update(data_preprocessor=preprocessor, backbone=backbone,
                    neck=neck)
        base['rpn_head'].update(
            in_channels=16, feat_channels=16,
            anchor_generator=dict(type='AnchorGenerator', scales=[3],
                                  ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32]))
        roi_head = base['roi_head']
        roi_head['bbox_roi_extractor'].update(out_channels=16,
                                              featmap_strides=[8, 16, 32])
        roi_head['bbox_head'].update(in_channels=16, fc_out_channels=32,
                                     num_classes=num_classes)
        base['train_cfg']['rpn']['sampler']['num'] = 64
        base['train_cfg']['rpn_proposal'].update(nms_pre=200,
                                                 max_per_img=50)
        base['train_cfg']['rcnn']['sampler']['num'] = 32
        base['test_cfg']['rpn'].update(nms_pre=200, max_per_img=50)
        return base
    raise ValueError(family)


@pytest.fixture(scope='session')
def tiny_detector_cfg() -> Callable[..., dict]:
    """``make(family, num_classes=8) -> dict``: a tiny stock mmdet detector
    config of ``'ssd'`` (``SSDHead``, softmax), ``'retinanet'``
    (``RetinaHead``, sigmoid, ``center_offset=0.5``) or ``'faster_rcnn'``
    (``StandardRoIHead``), for 64-128 px images."""
    return _tiny_detector_cfg


class LocalBackbone(torch.nn.Module):
    """1x1 convolutions and ``AvgPool2d(kernel = stride)``: each output cell
    sees only its own ``stride x stride`` block of pixels, and the output is
    exactly the mirror of the mirrored input's when the width is a multiple
    of every stride."""

    def __init__(self, channels: Sequence[int],
                 strides: Sequence[int] = (8, 16, 32)) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 1)
        self.levels = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.AvgPool2d(stride, stride),
                                torch.nn.Conv2d(8, width, 1),
                                torch.nn.ReLU())
            for width, stride in zip(channels, strides))

    def forward(self, inputs: torch.Tensor) -> tuple:
        stem = torch.relu(self.stem(inputs))
        return tuple(level(stem) for level in self.levels)


def _make_local(detector: torch.nn.Module, symmetric: bool = True):
    """Give a built one-stage tiny detector (``'ssd'`` or ``'retinanet'``
    of ``tiny_detector_cfg``) the :class:`LocalBackbone`, no neck, and, with
    ``symmetric``, left-right symmetric head kernels (antisymmetric for the
    boxes' dx), which makes it exactly flip-equivariant; returns it."""
    head = detector.bbox_head
    channels = head.in_channels if isinstance(head.in_channels, (
        list, tuple)) else [head.in_channels] * 3
    torch.manual_seed(0)
    detector.backbone = LocalBackbone(channels)
    detector.neck = None
    if symmetric:
        # Mirror-symmetric kernels map mirrored features to mirrored
        # outputs; the box branch's dx channels need antisymmetric kernels
        # and no bias, so that the mirror predicts -dx.
        if hasattr(head, 'retina_reg'):
            box_convs = [head.retina_reg]
        else:
            box_convs = [branch[-1] for branch in head.reg_convs]
        with torch.no_grad():
            for module in head.modules():
                if isinstance(module, torch.nn.Conv2d):
                    module.weight.copy_(
                        (module.weight + module.weight.flip(-1)) / 2)
            for conv in box_convs:
                dx = conv.weight[0::4]
                conv.weight[0::4] = (dx - dx.flip(-1)) / 2
                conv.bias[0::4] = 0
    return detector


@pytest.fixture(scope='session')
def local_detector() -> Callable[..., torch.nn.Module]:
    """``make(detector, symmetric=True)``: swap in a local backbone (each
    feature cell sees only its own block of pixels), drop the neck and, with
    ``symmetric``, make the head's kernels mirror-symmetric, so that the
    detector is exactly flip-equivariant."""
    return _make_local
