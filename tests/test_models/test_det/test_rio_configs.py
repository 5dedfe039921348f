"""RIO's LVIS configs: mmdet's Mask R-CNN LVIS recipes with RIO's sampler
in place of ClassBalancedDataset and RIO's RoI head (their models are built
by tests/test_configs.py)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
LVIS = sorted(glob.glob(osp.join(REPO, 'configs', 'rio', '*_lvis-*.py')))


@pytest.mark.parametrize('path', LVIS, ids=[osp.basename(p) for p in LVIS])
def test_lvis_config_is_rio(path):
    cfg = Config.fromfile(path)
    loader = cfg.train_dataloader
    assert loader.sampler == dict(
        type='mmext.RepeatFactorSampler', repeat_thr=1e-3)
    assert loader.dataset.type in ('LVISV1Dataset', 'LVISV05Dataset')
    head = cfg.model.roi_head
    assert head.type == 'mmext.RIORoIHead'
    assert (head.memory_capacity, head.memory_replay) == (60, 20)
    assert head.memory_classes.endswith('_train.json')
    assert head.bbox_head.cls_predictor_cfg == dict(
        type='NormedLinear', tempearture=48)
    assert cfg.val_evaluator.type == 'mmext.LVISMetric'
    assert cfg.val_evaluator.metric == ['bbox', 'segm']


def test_both_lvis_versions():
    assert [osp.basename(p) for p in LVIS] == [
        'rio_mask-rcnn_r50_fpn_rfs1e-3_ms-1x_lvis-v1.py',
        'rio_mask-rcnn_r50_fpn_rfs1e-3_ms-2x_lvis-v0.5.py'
    ]
