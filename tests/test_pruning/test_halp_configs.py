"""The HALP paper configs (ImageNet, VOC) load, build and trace.

The Shapes configs in ``configs/halp/`` (``*_shapes-*``) train end to end in
their own tests; these configs need real data and a GPU latency table, so
they are checked for what can be checked without either: the file name
agrees with the config, the dense model is the paper's network, the HALP
hook builds, and its channel groups are the reference's.
"""
import functools
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import mmext  # noqa: F401
from mmext.engine.hooks.halp_hook import HALPHook
from mmext.engine.hooks.pruning_config import pruning_hook_cfg
from mmext.pruning.graph import build_channel_groups
from mmext.registry import HOOKS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p
                 for p in glob.glob(osp.join(REPO, 'configs', 'halp', '*.py'))
                 if '_shapes-' not in osp.basename(p))
NAME = re.compile(r'^halp-(?P<ratio>\d+)_(?P<model>.+?)_(?P<gpus>\d+)xb'
                  r'(?P<batch>\d+)-(?P<sched>\w+)_(?P<data>[\w]+)-\w+\.py$')

# Parameters of the dense models (torchvision's resnet50 / resnet101 with a
# 1000-way fc: 25,557,032 / 44,549,160; SSD300-R50: ResNet-50 conv1..layer3,
# 8,543,296 parameters, plus the extra blocks and the 21-class head).
DENSE_PARAMS = {
    'resnet50': 25_557_032,
    'resnet101': 44_549_160,
}
SSD_BACKBONE_PARAMS = 8_543_296

# Prunable groups with the stem protected: two per bottleneck (conv1, conv2
# outputs) and one per residual stream that does not reach the traced
# outputs, as NVlabs/HALP's configs/prune_configs/rn50_prune_layer.json
# (GS_SPARSE per bottleneck conv, CL_GROUP per stage).
EXPECTED_GROUPS = {
    # 16 bottlenecks, 4 streams (layer4's feeds the fc, which is pruned
    # with it).
    'resnet50': 2 * 16 + 4,
    'resnet101': 2 * 33 + 4,
    # 3 + 4 + 6 bottlenecks, layer1/layer2 streams (layer3's is the neck's
    # first output), 5 extra-block 1x1 convs.
    'ssd300_r50': 2 * 13 + 2 + 5,
}


def _name(path):
    return osp.basename(path)


@functools.lru_cache(maxsize=None)
def _load(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model)


def test_paper_configs_found():
    names = {_name(p) for p in CONFIGS}
    assert {
        'halp-80_resnet50_8xb128-90e_imagenet-224px.py',
        'halp-55_resnet50_8xb128-90e_imagenet-224px.py',
        'halp-30_resnet50_8xb128-90e_imagenet-224px.py',
    } <= names
    assert any('resnet101' in n for n in names)
    assert any('ssd300' in n for n in names)


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_matches_its_name(path):
    match = NAME.match(_name(path))
    assert match, f'{_name(path)} does not follow the naming scheme'
    cfg = Config.fromfile(path)
    assert 'mmext' in cfg.custom_imports.imports
    hook_cfg = pruning_hook_cfg(cfg)
    assert hook_cfg['type'] == 'mmext.HALPHook'
    assert hook_cfg['target_ratio'] == pytest.approx(int(match['ratio']) / 100)
    gpus, batch = int(match['gpus']), int(match['batch'])
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.auto_scale_lr.base_batch_size == gpus * batch
    # The reference's pruning schedule (NVlabs/HALP
    # configs/exp_configs/rn50_imagenet_prune.yaml) and protected stem.
    assert (hook_cfg['start'], hook_cfg['interval'],
            hook_cfg['num_steps']) == (0, 40, 30)
    assert hook_cfg['ignored_layers'] == ('backbone.conv1', )
    assert cfg.load_from, 'HALP prunes a trained dense model'
    assert f"_b{hook_cfg['latency_batch']}.json" in hook_cfg['lut']


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_model_and_hook_build(path):
    cfg, model = _load(path)
    hook_cfg = pruning_hook_cfg(cfg)
    hook = HOOKS.build(hook_cfg)
    assert isinstance(hook, HALPHook)
    assert hook.target_ratio == hook_cfg['target_ratio']
    model_name = NAME.match(_name(path))['model']
    num_params = sum(p.numel() for p in model.parameters())
    if model_name in DENSE_PARAMS:
        assert num_params == DENSE_PARAMS[model_name]
    else:
        assert model_name == 'ssd300_r50'
        assert sum(p.numel() for p in model.backbone.parameters()) \
            == SSD_BACKBONE_PARAMS
        # The pruned scope runs on the hook's input and gives the six SSD
        # levels (38, 19, 10, 5, 3, 1 at 300 px).
        model.eval()
        with torch.no_grad():
            cls_scores, _ = model(torch.randn(1, *hook.input_shape),
                                  mode='tensor')
        assert [s.shape[-1] for s in cls_scores] == [38, 19, 10, 5, 3, 1]


@pytest.mark.parametrize('model_name', sorted(EXPECTED_GROUPS), ids=str)
def test_channel_groups(model_name):
    path = next(p for p in CONFIGS
                if NAME.match(_name(p))['model'] == model_name)
    cfg, model = _load(path)
    hook = HOOKS.build(pruning_hook_cfg(cfg))
    groups = build_channel_groups(model, torch.randn(1, *hook.input_shape),
                                  hook.scope, hook.ignored_layers)
    assert len(groups) == EXPECTED_GROUPS[model_name]
    producers = {m.name for g in groups for m in g.producers}
    assert 'backbone.conv1' not in producers
    # Every group splits into whole knapsack items of the hook's size.
    assert all(g.num_channels % hook.channel_group_size == 0 for g in groups)
    if model_name == 'resnet50':
        # 7552 bottleneck-inner + 3840 residual-stream channels (the
        # reference's ~11.5k with the stem's 64).
        assert sum(g.num_channels for g in groups) == 11392
        assert 'backbone.layer4.0.downsample.0' in producers
