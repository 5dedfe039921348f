"""The ImageNet configs of HALP, EPI and GradInversion inherit mmpretrain's
stock ResNet bases: real ``RandomResizedCrop`` training, mmpretrain's
evaluation pipeline, and the papers' recipe values on top."""
import glob
import math
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS, TRANSFORMS

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRUNING = sorted(
    glob.glob(osp.join(REPO, 'configs', 'halp', '*_imagenet-224px.py')) +
    glob.glob(osp.join(REPO, 'configs', 'epi', '*_imagenet-224px.py')))
INVERSION = osp.join(REPO, 'configs', 'gradinversion',
                     'gradinversion_resnet50_b8-20kit_imagenet-224px.py')
MMPRETRAIN_ZOO = 'https://download.openmmlab.com/mmclassification/v0/resnet/'


def _ids(paths):
    return [osp.basename(p) for p in paths]


def _built(pipeline):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return [TRANSFORMS.build(dict(step)) for step in pipeline]


def test_every_imagenet_config_is_covered():
    assert len(PRUNING) == 6  # HALP 80/55/30 R50, 45 R101; EPI x2
    assert osp.isfile(INVERSION)


@pytest.mark.parametrize('path', PRUNING, ids=_ids(PRUNING))
def test_training_pipeline_is_random_resized_crop(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    loader = cfg.train_dataloader
    assert loader.dataset.type == 'ImageNet'
    assert loader.dataset.split == 'train'
    steps = _built(loader.dataset.pipeline)
    names = [type(t).__name__ for t in steps]
    assert names == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                     'PackInputs']
    crop, flip = steps[1], steps[2]
    # torchvision's RandomResizedCrop(224): area U[8%, 100%], aspect ratio
    # log-uniform in [3/4, 4/3] (the NVIDIA ResNet-50 v1.5 recipe of HALP).
    assert crop.scale == (224, 224)
    assert crop.crop_ratio_range == (0.08, 1.0)
    assert crop.aspect_ratio_range == pytest.approx((3 / 4, 4 / 3))
    assert (flip.prob, flip.direction) == (0.5, 'horizontal')
    evaluation = [type(t).__name__ for t in
                  _built(cfg.val_dataloader.dataset.pipeline)]
    assert evaluation == ['LoadImageFromFile', 'ResizeEdge', 'CenterCrop',
                          'PackInputs']
    assert cfg.val_dataloader.dataset.pipeline[1].scale == 256
    assert cfg.val_dataloader.dataset.pipeline[2].crop_size == 224


@pytest.mark.parametrize('path', PRUNING, ids=_ids(PRUNING))
def test_recipe_values(path):
    """NVlabs/HALP configs/exp_configs/rn50_imagenet_prune.yaml: 8 GPUs x
    128, SGD lr 1.024 (0.256 per 256), momentum 0.875, weight decay 1/32768
    off BN, 8 linear warm-up epochs then cosine to 90, label smoothing
    0.1, AMP."""
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.auto_scale_lr.base_batch_size == 1024
    optim = cfg.optim_wrapper
    assert optim.type == 'AmpOptimWrapper'
    assert optim.optimizer.type == 'SGD'
    assert optim.optimizer.lr == pytest.approx(1.024)
    assert optim.optimizer.momentum == 0.875
    assert optim.optimizer.weight_decay == pytest.approx(1 / 32768)
    assert optim.paramwise_cfg.norm_decay_mult == 0
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 8)
    assert warmup.start_factor == pytest.approx(1 / 8)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max) == (
        'CosineAnnealingLR', 8, 90, 82)
    assert cfg.train_cfg.max_epochs == 90
    loss = cfg.model.head.loss
    assert (loss.type, loss.label_smooth_val, loss.mode) == (
        'LabelSmoothLoss', 0.1, 'original')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    assert type(model).__module__.startswith('mmpretrain.')
    assert type(model.backbone).__name__ == 'ResNet'
    name = osp.basename(path)
    if name.startswith('halp'):
        # HALP prunes mmpretrain's trained network of the same depth.
        depth = 101 if 'resnet101' in name else 50
        assert cfg.load_from.startswith(MMPRETRAIN_ZOO + f'resnet{depth}_')
    else:
        assert cfg.get('load_from') is None  # EPI trains from scratch


def test_inversion_attacks_mmpretrains_resnet50_on_its_test_pipeline():
    cfg = Config.fromfile(INVERSION)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.type == 'ImageClassifier'
    assert cfg.model.backbone.depth == 50
    assert cfg.load_from.startswith(MMPRETRAIN_ZOO + 'resnet50_8xb32_in1k')
    assert cfg.train_dataloader is None
    dataset = cfg.test_dataloader.dataset
    assert (dataset.type, dataset.split) == ('ImageNet', 'train')
    names = [type(t).__name__ for t in _built(dataset.pipeline)]
    assert names == ['LoadImageFromFile', 'ResizeEdge', 'CenterCrop',
                     'PackInputs']
    # The base's training pipeline, unused by the attack, is the stock one.
    assert [s.type for s in cfg.train_pipeline][1] == 'RandomResizedCrop'
    assert math.isclose(cfg.data_preprocessor.mean[0], 123.675)
