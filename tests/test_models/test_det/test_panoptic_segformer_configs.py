"""Panoptic SegFormer's COCO panoptic configs (arXiv 2109.03814).

Each config under ``configs/panoptic_segformer/`` whose name contains
``coco-panoptic`` must carry the official recipe (optimizer, lr multipliers,
clipping, step schedule, 8 x 1 images, augmentation, test thresholds), use
no panopticapi-dependent type, and build a model of the expected size with
every pretrained-weight reference removed (nothing can be downloaded here).
The R-50 and MiT-B5 models also run one prediction on a tiny image.
"""
import functools
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

import mmext  # noqa: F401
from mmext.utils.benchmark import strip_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
FOLDER = osp.join(REPO, 'configs', 'panoptic_segformer')
COCO = sorted(p for p in glob.glob(osp.join(FOLDER, '*.py'))
              if 'coco-panoptic' in osp.basename(p))
IDS = [osp.basename(p)[len('panoptic-segformer_'):-len('_coco-panoptic.py')]
       for p in COCO]

# Per config: backbone weights (a substring of the init_cfg checkpoint), neck
# input channels, confidence thresholds (0.3 for PVTv2-B5 and Swin-L in the
# official configs; MiT-B5 follows them).
BACKBONES = {
    'r50': ('torchvision://resnet50', [512, 1024, 2048], 0.25),
    'r101': ('torchvision://resnet101', [512, 1024, 2048], 0.25),
    'pvtv2-b5': ('pvt_v2_b5_22k.pth', [128, 320, 512], 0.3),
    'swin-l': ('swin_large_patch4_window7_224_22k.pth', [384, 768, 1536],
               0.3),
    'mit-b5': ('mit_b5', [128, 320, 512], 0.3),
}
# Backbone parameters (millions), from the backbones' own papers, without
# their ImageNet classifiers:
# - ResNet-50 / -101: torchvision's 25,557,032 / 44,549,160 parameters minus
#   the 2,049,000 of the fc layer (mmdet's ResNet builds all four stages,
#   frozen ones included): exact.
# - PVTv2-B5: 82.0 M in the PVTv2 paper minus its 0.51 M head; MiT-B5:
#   81.4 M encoder in the SegFormer paper (Table 1). Same network sizes.
# - Swin-L: 197 M in the Swin paper minus its 1.5 M ImageNet-1K head; the
#   two extra output norms of stages 2 and 3 add only 2,304.
BACKBONE_PARAMS = {
    'r50': (23_508_032, 23_508_032),
    'r101': (42_500_160, 42_500_160),
    'pvtv2-b5': (81.0e6, 82.0e6),
    'mit-b5': (81.0e6, 82.0e6),
    'swin-l': (193.0e6, 197.0e6),
}
# Whole models (millions). R-50: the official model is about 51 M. PVTv2-B5:
# the paper's 104.9 M, within 1.5 % -- mmext does not build the mask
# decoder's per-layer thing class / box branches, whose losses the official
# code multiplies by 0 (Linear(256, 80) + a 3-layer box MLP, 0.15 M per
# mask-decoder layer).
# R-101 and Swin-L (no published count): backbone range plus the R-50
# model's neck-independent part (21.5 M, checked to be shared below).
TOTAL_PARAMS = {
    'r50': (48.0e6, 54.0e6),
    'r101': (68.0e6, 71.5e6),
    'pvtv2-b5': (103.3e6, 106.5e6),
    'mit-b5': (103.3e6, 106.5e6),
    'swin-l': (218.0e6, 223.0e6),
}
# mmdet types that import panopticapi (not on PyPI); mmext.* replaces them
NEEDS_PANOPTICAPI = {'LoadPanopticAnnotations', 'CocoPanopticMetric',
                     'mmdet.LoadPanopticAnnotations',
                     'mmdet.CocoPanopticMetric'}
MULTI_SCALE = [(s, 1333) for s in range(480, 801, 32)]


def _backbone(path: str) -> str:
    return osp.basename(path).split('_')[1]


def _types(node):
    """Every ``type`` value in a (nested) config."""
    if isinstance(node, dict):
        if 'type' in node:
            yield node['type']
        for value in node.values():
            yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


def _build(name: str):
    cfg = Config.fromfile(osp.join(
        FOLDER, f'panoptic-segformer_{name}_coco-panoptic.py'))
    strip_pretrained(cfg.model)
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS
        return MODELS.build(cfg.model)


def _neck_params(in_channels, out_channels=256):
    """ChannelMapper with GN (convs without bias) and one extra stride-2 3x3
    level from the last input."""
    maps = sum(c * out_channels + 2 * out_channels for c in in_channels)
    return maps + in_channels[-1] * 9 * out_channels + 2 * out_channels


@functools.lru_cache(maxsize=None)
def _counts(name: str):
    """(total, backbone, neck, things, stuff, merge cfg) of a built model;
    the model itself is dropped (Swin-L alone is 0.9 GB)."""
    model = _build(name)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    head = model.bbox_head
    return (count(model), count(model.backbone), count(model.neck),
            head.num_things_classes, head.num_stuff_classes,
            dict(head.merge_cfg))


def test_the_coco_configs():
    assert IDS == [
        'mit-b5_8xb1-24e', 'pvtv2-b5_8xb1-24e', 'r101_8xb1-24e',
        'r50_8xb1-12e', 'r50_8xb1-24e', 'swin-l_8xb1-24e'
    ]


@pytest.mark.parametrize('path', COCO, ids=IDS)
def test_recipe(path):
    with open(path, encoding='utf-8') as f:
        header = f.read().split('\n_base_')[0]
    assert 'arXiv 2109.03814' in header
    cfg = Config.fromfile(path)
    backbone = _backbone(path)
    epochs = 12 if '-12e_' in path else 24

    # registry rules
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports == dict(imports=['mmext'],
                                      allow_failed_imports=False)

    # AdamW 1.4e-4 / 1e-4, lr x0.1 on three groups, L2 clip at 0.1
    optim = cfg.optim_wrapper
    assert optim.type == 'OptimWrapper'
    assert optim.optimizer == dict(type='AdamW', lr=1.4e-4,
                                   weight_decay=1e-4)
    assert optim.clip_grad == dict(max_norm=0.1, norm_type=2)
    assert optim.paramwise_cfg == dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'sampling_offsets': dict(lr_mult=0.1),
        'reference_points': dict(lr_mult=0.1)
    })

    # one step at epoch 8 (12e) or 18 (24e), no warm-up
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler == [
        dict(type='MultiStepLR', begin=0, end=epochs, by_epoch=True,
             milestones=[8 if epochs == 12 else 18], gamma=0.1)
    ]
    assert cfg.auto_scale_lr.base_batch_size == 8
    assert '_8xb1-' in osp.basename(path)

    # data: 1 image per GPU, no empty-image filtering, no padding
    assert cfg.model.data_preprocessor.pad_size_divisor == 1
    train = cfg.train_dataloader
    assert train.batch_size == 1
    assert train.dataset.type == 'CocoPanopticDataset'
    assert train.dataset.filter_cfg == dict(filter_empty_gt=False)
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.batch_size == 1
        assert loader.dataset.type == 'CocoPanopticDataset'
        assert loader.dataset.ann_file == 'annotations/panoptic_val2017.json'
        resize = [t for t in loader.dataset.pipeline if t.type == 'Resize']
        assert [(t.scale, t.keep_ratio) for t in resize] == [((1333, 800),
                                                              True)]
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'mmext.CocoPanopticMetric'
        assert evaluator.ann_file.endswith(
            'annotations/panoptic_val2017.json')
        assert evaluator.seg_prefix.endswith('annotations/panoptic_val2017/')

    # the Deformable DETR policy: flip, then one of two resize branches
    types = [t.type for t in train.dataset.pipeline]
    assert types == [
        'LoadImageFromFile', 'mmext.LoadPanopticAnnotations', 'RandomFlip',
        'RandomChoice', 'PackDetInputs'
    ]
    assert train.dataset.pipeline[2].prob == 0.5
    plain, crop = train.dataset.pipeline[3].transforms
    assert [t.type for t in plain] == ['RandomChoiceResize']
    assert [t.type for t in crop] == [
        'RandomChoiceResize', 'RandomCrop', 'RandomChoiceResize'
    ]
    for resize in (plain[0], crop[2]):
        assert [tuple(s) for s in resize.scales] == MULTI_SCALE
        assert resize.keep_ratio
    assert [tuple(s) for s in crop[0].scales] == [(400, 4200), (500, 4200),
                                                  (600, 4200)]
    assert crop[1] == dict(type='RandomCrop', crop_type='absolute_range',
                           crop_size=(384, 600), allow_negative_crop=True)

    # nothing that needs panopticapi, anywhere in the config
    all_types = set(_types(cfg.to_dict()))
    assert not all_types & NEEDS_PANOPTICAPI
    assert {'mmext.LoadPanopticAnnotations',
            'mmext.CocoPanopticMetric'} <= all_types

    # backbone weights, neck widths, merging thresholds
    weights, in_channels, thr = BACKBONES[backbone]
    init_cfg = cfg.model.backbone.init_cfg
    assert init_cfg.type == 'Pretrained' and weights in init_cfg.checkpoint
    assert cfg.model.neck.in_channels == in_channels
    test_cfg = cfg.model.test_cfg
    assert (test_cfg.thing_score_thr, test_cfg.stuff_score_thr) == (thr, thr)
    assert (test_cfg.thing_overlap_thr, test_cfg.stuff_overlap_thr) == (0.4,
                                                                        0.2)
    assert test_cfg.max_per_img == 100


def test_backbone_variants():
    """The sizes named in the official configs."""
    cfgs = {_backbone(p): Config.fromfile(p).model.backbone for p in COCO}
    assert cfgs['r101'].type == 'ResNet' and cfgs['r101'].depth == 101
    pvt = cfgs['pvtv2-b5']
    assert pvt.type == 'PyramidVisionTransformerV2'
    assert (pvt.embed_dims, pvt.num_layers, tuple(pvt.mlp_ratios),
            pvt.out_indices) == (64, [3, 6, 40, 3], (4, 4, 4, 4), (1, 2, 3))
    swin = cfgs['swin-l']
    assert swin.type == 'SwinTransformer'
    assert (swin.embed_dims, swin.depths, swin.num_heads, swin.window_size,
            swin.drop_path_rate, swin.out_indices,
            swin.convert_weights) == (192, [2, 2, 18, 2], [6, 12, 24, 48], 7,
                                      0.3, (1, 2, 3), True)
    mit = cfgs['mit-b5']
    assert (mit.type, mit.arch, mit.out_indices) == ('mmext.MiT', 'b5',
                                                     (1, 2, 3))


@pytest.mark.parametrize('name', IDS)
def test_model_builds(name):
    total, backbone, neck, things, stuff, merge = _counts(name)
    short = name.split('_')[0]
    assert (things, stuff) == (80, 53)
    low, high = BACKBONE_PARAMS[short]
    assert low <= backbone <= high, backbone
    low, high = TOTAL_PARAMS[short]
    assert low <= total <= high, total
    # the neck is wired to the backbone's widths ...
    assert neck == _neck_params(BACKBONES[short][1])
    # ... and everything after it is the same model for every backbone
    r50_total, r50_backbone, r50_neck = _counts('r50_8xb1-24e')[:3]
    assert total - backbone - neck == r50_total - r50_backbone - r50_neck
    thr = BACKBONES[short][2]
    assert (merge['thing_score_thr'], merge['stuff_score_thr']) == (thr, thr)


def test_mit_b5_is_pvtv2_b5_sized():
    assert _counts('mit-b5_8xb1-24e')[:3] == _counts('pvtv2-b5_8xb1-24e')[:3]


def test_lr_multipliers_and_hooks_resolve():
    """The three custom keys reach exactly the backbone, the deformable
    attention's sampling offsets and mmdet 3.x's ``reference_points_fc``;
    the cache-cleaning hook exists in the mmdet scope."""
    cfg = Config.fromfile(osp.join(
        FOLDER, 'panoptic-segformer_r50_8xb1-24e_coco-panoptic.py'))
    model = _build('r50_8xb1-24e')
    from mmengine.optim import build_optim_wrapper
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import HOOKS
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        hooks = [HOOKS.build(h) for h in cfg.custom_hooks]
    assert [type(h).__name__ for h in hooks] == ['EmptyCacheHook']
    slow = {id(p) for g in wrapper.optimizer.param_groups
            if g['lr'] == pytest.approx(1.4e-5) for p in g['params']}
    names = {n for n, p in model.named_parameters()
             if p.requires_grad and id(p) in slow}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    expected = {
        n for n in trainable
        if n.startswith('backbone.') or '.sampling_offsets.' in n
        or n.startswith('reference_points_fc.')
    }
    assert names == expected
    assert any('sampling_offsets' in n for n in names)
    assert any(n.startswith('reference_points_fc.') for n in names)
    for group in wrapper.optimizer.param_groups:
        assert group['weight_decay'] == 1e-4


@pytest.mark.parametrize('name', ['r50_8xb1-24e', 'mit-b5_8xb1-24e'])
def test_predict_on_a_tiny_image(name):
    """Preprocessor -> backbone (ResNet or channels-last MiT maps) -> neck
    -> deformable transformer -> mask decoders -> merging, at 128 x 160
    shown as a 256 x 320 original."""
    torch.manual_seed(0)
    model = _build(name).eval()
    sample = DetDataSample(metainfo=dict(
        img_id=0, img_shape=(128, 160), ori_shape=(256, 320),
        scale_factor=(0.5, 0.5)))
    data = dict(inputs=[torch.randint(0, 256, (3, 128, 160),
                                      dtype=torch.uint8)],
                data_samples=[sample])
    with torch.no_grad():
        (out, ) = model.test_step(data)
    panoptic = out.pred_panoptic_seg.sem_seg
    assert panoptic.shape == (1, 256, 320)
    labels = panoptic % 1000
    assert ((labels >= 0) & (labels <= 133)).all()  # 133 = VOID


def _synthetic_scene(seed: int):
    """A 300 x 400 image with three thing masks (labels 3, 7, 11, one per
    column band, random boxes) on two stuff regions (labels 90, 120), as
    LoadPanopticAnnotations leaves it."""
    rng = np.random.default_rng(seed)
    h, w = 300, 400
    seg = np.full((h, w), 90, np.uint8)
    seg[150:] = 120
    masks, boxes = [], []
    for i, label in enumerate((3, 7, 11)):
        x0, y0 = 130 * i + rng.integers(0, 50), rng.integers(0, 220)
        x1, y1 = x0 + rng.integers(10, 80), y0 + rng.integers(10, 80)
        mask = np.zeros((h, w), np.uint8)
        mask[y0:y1, x0:x1] = 1
        seg[mask > 0] = label
        masks.append(mask)
        boxes.append([x0, y0, x1, y1])
    return dict(
        img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        img_shape=(h, w), ori_shape=(h, w), img_id=0, img_path='x.jpg',
        gt_bboxes=np.array(boxes, np.float32),
        gt_bboxes_labels=np.array([3, 7, 11], np.int64),
        gt_ignore_flags=np.zeros(3, bool),
        gt_masks=BitmapMasks(masks, h, w), gt_seg_map=seg)


def test_train_augmentation_keeps_masks_and_map_aligned():
    """Flip, resize and the absolute-range crop move the image, the thing
    masks and the semantic map together: every kept thing mask still covers
    exactly its label in the map."""
    cfg = Config.fromfile(COCO[0])
    # the steps after loading (RandomFlip, RandomChoice) and, on its own,
    # the crop branch of RandomChoice
    steps = [ConfigDict(t) for t in cfg.train_dataloader.dataset.pipeline[2:4]]
    with DefaultScope.overwrite_default_scope('mmdet'):
        pipeline = Compose(steps)
        crop_branch = Compose(steps[1].transforms[1])
    for seed in range(6):
        np.random.seed(seed)
        for transform in (pipeline, crop_branch):
            out = transform(_synthetic_scene(seed))
            h, w = out['img'].shape[:2]
            assert out['gt_seg_map'].shape == (h, w)
            masks = out['gt_masks']
            assert (masks.height, masks.width) == (h, w)
            assert len(masks) == len(out['gt_bboxes']) == len(
                out['gt_bboxes_labels'])
            assert 480 <= min(h, w) <= 800 and max(h, w) <= 1333
            for mask, label in zip(masks.masks, out['gt_bboxes_labels']):
                mask = mask.astype(bool)
                assert (out['gt_seg_map'][mask] == label).all()
                assert (mask == (out['gt_seg_map'] == label)).all()
