"""Every config under configs/ loads and builds its model.

Catches broken ``_base_`` references, scope mistakes (an unprefixed mmext
type under a host scope) and stale arguments, on CPU without any data.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path.split(osp.sep))


def test_there_are_configs():
    assert CONFIGS


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope', 'mmengine')
    assert 'custom_imports' in cfg and 'mmext' in cfg.custom_imports.imports
    registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):  # None in configs that only test (inversion)
            assert cfg[key].dataset.type
