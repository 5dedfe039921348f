"""Every SegFormer config loads, builds its model and follows the recipe."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS as SEG_MODELS

from mmext.models.seg import MIT_ARCHS, MiT, SegFormerHead

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'segformer', '*.py')))
PAPER_CONFIGS = [c for c in CONFIGS if 'shapes' not in c]
NAME = re.compile(r'segformer_mit-(b[0-5])_8xb(\d)-160k_(ade20k|cityscapes)'
                  r'-(\d+)x(\d+)\.py')
# Paper Table 1 (150 classes), millions of parameters.
PAPER_PARAMS = dict(b0=3.8, b1=13.7, b2=27.5, b3=47.3, b4=64.1, b5=84.7)


def build_model(cfg):
    model_cfg = cfg.model.copy()
    model_cfg['backbone'] = dict(model_cfg['backbone'], init_cfg=None)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return SEG_MODELS.build(model_cfg)


def test_every_recipe_is_present():
    names = {osp.basename(c) for c in PAPER_CONFIGS}
    expected = {f'segformer_mit-{a}_8xb2-160k_ade20k-512x512.py'
                for a in MIT_ARCHS}
    expected |= {f'segformer_mit-{a}_8xb1-160k_cityscapes-1024x1024.py'
                 for a in MIT_ARCHS}
    expected.add('segformer_mit-b5_8xb2-160k_ade20k-640x640.py')
    assert names == expected


@pytest.mark.parametrize('path', PAPER_CONFIGS, ids=osp.basename)
def test_paper_config(path):
    arch, batch, dataset, height, width = NAME.fullmatch(
        osp.basename(path)).groups()
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.backbone.type == 'mmext.MiT'
    assert cfg.model.decode_head.type == 'mmext.SegFormerHead'
    assert cfg.model.backbone.init_cfg.checkpoint.endswith(
        f'mit_{arch}_mmext.pth')
    assert cfg.crop_size == (int(height), int(width))
    assert cfg.train_dataloader.batch_size == int(batch)
    # Recipe: AdamW 6e-5, wd 0.01, 1500 warm-up, poly 1.0 to 160k.
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.weight_decay) == ('AdamW', 6e-5,
                                                          0.01)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 1500)
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == (
        'PolyLR', 1.0, 0.0, 1500, 160000)
    assert cfg.train_cfg.max_iters == 160000
    resize = [t for t in cfg.test_pipeline if t.type == 'ResizeToMultiple']
    assert resize and resize[0].size_divisor == 32
    if dataset == 'cityscapes':
        assert cfg.model.test_cfg.mode == 'slide'
        assert cfg.model.test_cfg.stride == (768, 768)
    model = build_model(cfg)
    assert isinstance(model.backbone, MiT) and model.backbone.arch == arch
    assert isinstance(model.decode_head, SegFormerHead)
    assert model.decode_head.channels == MIT_ARCHS[arch].decoder_channels
    assert model.decode_head.num_classes == (150 if dataset == 'ade20k'
                                             else 19)


@pytest.mark.parametrize('arch', sorted(PAPER_PARAMS))
def test_parameter_count_matches_the_paper(arch):
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'segformer',
        f'segformer_mit-{arch}_8xb2-160k_ade20k-512x512.py'))
    model = build_model(cfg)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(count - PAPER_PARAMS[arch]) <= 0.1, f'{arch}: {count:.3f} M'


def test_param_groups_follow_the_recipe():
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'segformer',
        'segformer_mit-b0_8xb2-160k_ade20k-512x512.py'))
    model = build_model(cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    settings = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            settings[id(param)] = (group['lr'], group['weight_decay'])
    norms = (torch.nn.LayerNorm, torch.nn.BatchNorm2d)
    checked = 0
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            lr, decay = settings[id(param)]
            in_head = module_name.startswith('decode_head')
            assert lr == pytest.approx(6e-4 if in_head else 6e-5), name
            if isinstance(module, norms):
                assert decay == 0.0, f'{module_name}.{name} has decay'
            elif param.ndim > 1:
                assert decay == 0.01, f'{module_name}.{name} has no decay'
            checked += 1
    assert checked == len(list(model.parameters()))
