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


def _random_teacher_ckpt(teacher: dict, root: str) -> str:
    """A checkpoint of DICOD's teacher config, randomly initialised (one
    per teacher architecture)."""
    import torch

    from mmext.models.det.dicod.teacher import teacher_model_cfg
    from mmext.registry import MODELS
    teacher = teacher_model_cfg(teacher)
    backbone, head = teacher['backbone'], teacher['head']
    name = (f"teacher_{backbone.get('depth')}_"
            f"{backbone.get('base_channels', 64)}_{head['num_classes']}.pth")
    path = osp.join(root, name)
    if not osp.exists(path):
        torch.save(dict(state_dict=MODELS.build(teacher).state_dict()), path)
    return path


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_its_model(path, tmp_path_factory):
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope', 'mmengine')
    assert 'custom_imports' in cfg and 'mmext' in cfg.custom_imports.imports
    registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
    if cfg.model.get('type') == 'mmext.DICODDistiller':
        # The teacher is trained separately: stand in a random one of the
        # configured architecture.
        cfg.model.teacher_ckpt = _random_teacher_ckpt(
            cfg.model.teacher, str(tmp_path_factory.getbasetemp()))
    if cfg.model.get('type') == 'mmext.DirectInverter':
        # The attacked classifier is trained separately (or downloaded):
        # its initial weights stand in.
        cfg.model.target.checkpoint = None
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):  # None in configs that only test (inversion)
            assert cfg[key].dataset.type
