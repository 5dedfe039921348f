"""The direct-inversion configs (configs/direct_inversion): each loads, its
name says its split and variant, the ResNet-50 ImageNet ones build an
inverter that maps 224-px features back to 224-px images (no download: the
target checkpoint is overridden), the Shapes ones build on the Shapes
classifier's config, and the model builds the way tools/train.py builds it
(MMEngine's Runner merges the top-level ``data_preprocessor`` in)."""
import copy
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG_DIR = osp.join(REPO, 'configs', 'direct_inversion')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
NAME = re.compile(r'^dci-(stem|layer[1-4])(?:-(nocycle|nostage2|noise|real))?'
                  r'_(resnet18-w32|resnet50)_.*-(\d+)px\.py$')
SHAPES = [p for p in CONFIGS if '_resnet18-w32_' in p]
IMAGENET = [p for p in CONFIGS if '_resnet50_' in p]


def name_of(path: str) -> str:
    return osp.basename(path)


def parse(path: str):
    """``(split, variant or None, image size)`` from the file name."""
    match = NAME.match(name_of(path))
    assert match, f'{name_of(path)} does not follow dci-<split>[-variant]_'
    split, variant, _, size = match.groups()
    return split, variant, int(size)


def build(model_cfg) -> torch.nn.Module:
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model_cfg)


def offline(cfg: Config) -> Config:
    """``cfg`` with the target's config path absolute (the Shapes configs
    name it from the repository root) and no target checkpoint."""
    target = cfg.model.target
    if not target.config.startswith('mmpretrain::'):
        target.config = osp.join(REPO, target.config)
    target.checkpoint = None
    return cfg


def test_there_are_the_expected_configs():
    assert len(IMAGENET) == 3
    assert {parse(p)[0] for p in IMAGENET} == {'layer1', 'layer2', 'layer3'}
    assert {parse(p)[0] for p in SHAPES} == {
        'stem', 'layer1', 'layer2', 'layer3', 'layer4'}
    assert len(SHAPES) + len(IMAGENET) == len(CONFIGS)


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_config_loads_and_its_name_says_what_it_is(path):
    split, variant, size = parse(path)
    cfg = Config.fromfile(path)
    model = cfg.model
    assert model.type == 'mmext.DirectInverter'
    assert cfg.default_scope == 'mmpretrain'
    assert 'mmext' in cfg.custom_imports.imports
    assert model.split == split
    assert tuple(model.image_size) == (size, size)
    weights = dict(reconstruction=1.0, cycle=1.0, image=1.0)
    weights.update(model.get('loss_weights') or {})
    assert weights['cycle'] == (0 if variant == 'nocycle' else 1)
    assert weights['reconstruction'] == weights['image'] == 1
    max_iters = cfg.train_cfg.max_iters
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert set(cfg.train_cfg) - {'_delete_'} == {
        'type', 'max_iters', 'val_interval'}
    if variant == 'nostage2':
        assert model.stage1_iters is None
    else:
        assert 0 < model.stage1_iters < max_iters
        # the cosine decay runs through stage 2
        cosine = cfg.param_scheduler[-1]
        assert cosine.type == 'CosineAnnealingLR'
        assert (cosine.begin, cosine.end) == (model.stage1_iters, max_iters)

    dataset = cfg.train_dataloader.dataset
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    if variant == 'real':
        assert dataset.type == 'CustomDataset'
        assert dataset.data_prefix == 'classification/train'
        assert dataset.ann_file == 'classification/meta/train.txt'
        assert not dataset.test_mode
    else:
        assert dataset.type == 'mmext.SyntheticInversionDataset'
        assert dataset.source == ('noise' if variant == 'noise' else 'bn')
        assert dataset.target == model.target
        assert tuple(dataset.image_size) == (size, size)
    # scored on real held-out images
    test_set = cfg.test_dataloader.dataset
    if '_shapes-' in path:
        assert test_set.data_prefix == 'classification/val'
    else:
        assert (test_set.type, test_set.split) == ('ImageNet', 'val')
    assert cfg.test_evaluator.type == 'mmext.ImageReconstructionMetric'
    assert [h.type for h in cfg.custom_hooks] == [
        'mmext.DirectInversionGridHook']


def _delete_keys(node, where: str = '') -> list:
    """Where a ``_delete_`` key is left in a loaded config."""
    if isinstance(node, dict):
        found = [where or '.'] if '_delete_' in node else []
        for key, value in node.items():
            found += _delete_keys(value, f'{where}.{key}' if where else key)
        return found
    if isinstance(node, (list, tuple)):
        return [k for i, v in enumerate(node)
                for k in _delete_keys(v, f'{where}[{i}]')]
    return []


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_no_delete_key_reaches_a_constructor(path):
    # MMEngine drops `_delete_=True` only where a base defines the key;
    # elsewhere it stays and e.g. OptimWrapper(_delete_=True) fails
    assert _delete_keys(Config.fromfile(path).to_dict()) == []


@pytest.mark.parametrize('path', IMAGENET, ids=name_of)
def test_imagenet_config_builds_and_inverts_224px(path):
    split, _, _ = parse(path)
    cfg = Config.fromfile(path)
    assert cfg.model.target.checkpoint.startswith('https://')
    assert cfg.train_dataloader.dataset.source == 'bn'
    cfg.model.target.checkpoint = None  # no download
    model = build(cfg.model)
    assert model.split == split
    assert model.block_names[-1].split('.')[0] == split
    model.eval()
    with torch.no_grad():
        features = model.features(torch.zeros(1, 3, 224, 224))
        images = model.invert(features)
    assert tuple(features.shape[1:]) == model.feature_shape
    assert images.shape == (1, 3, 224, 224)


@pytest.mark.parametrize('path', SHAPES, ids=name_of)
def test_shapes_config_builds_on_the_shapes_classifier(path):
    split, _, size = parse(path)
    cfg = Config.fromfile(path)
    target = cfg.model.target
    classifier = Config.fromfile(osp.join(REPO, target.config))
    # the checkpoint named is the one the classifier's training writes last
    epochs = classifier.train_cfg.max_epochs
    assert target.checkpoint == (
        f'work_dirs/{osp.splitext(osp.basename(target.config))[0]}/'
        f'epoch_{epochs}.pth')
    # the inputs are normalised as the classifier expects
    for key in ('mean', 'std', 'to_rgb'):
        assert cfg.data_preprocessor[key] == \
            classifier.data_preprocessor[key], key
    model = build(offline(cfg).model)
    assert model.split == split
    with torch.no_grad():
        images = model.invert(model.features(torch.zeros(1, 3, size, size)))
    assert images.shape == (1, 3, size, size)


@pytest.mark.parametrize('path', [
    osp.join(CONFIG_DIR,
             'dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py'),
    osp.join(CONFIG_DIR, 'dci-layer1_resnet50_8xb32-20k_in1k-224px.py'),
], ids=name_of)
def test_runner_builds_the_model_with_the_top_level_preprocessor(
        path, tmp_path):
    # tools/train.py and tools/test.py build the model through the Runner,
    # which merges the config's top-level data_preprocessor (no type) into
    # the model config
    cfg = offline(Config.fromfile(path))
    assert cfg.get('data_preprocessor') is not None
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    model = runner.model
    assert type(model).__name__ == 'DirectInverter'
    pre = model.data_preprocessor
    torch.testing.assert_close(pre.mean.flatten(),
                               torch.tensor(cfg.data_preprocessor.mean))
    torch.testing.assert_close(pre.std.flatten(),
                               torch.tensor(cfg.data_preprocessor.std))
