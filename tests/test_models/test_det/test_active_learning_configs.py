"""The active-learning configs: the paper's VOC and COCO settings, the
Faster R-CNN variant and the Shapes method grid (their models are built by
tests/test_configs.py); every detector is one the scorer can read."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmext.models.det.active_learning import check_scorable
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
FOLDER = osp.join(REPO, 'configs', 'active_learning')
CONFIGS = sorted(glob.glob(osp.join(FOLDER, '*.py')))
PAPER = {
    # config: (initial, budget, pseudo-label threshold, batch, classes)
    'alssl_ssd300_vgg16_1xb16-6x120k_voc0712.py': (2011, 1000, 0.99, 16,
                                                    20),
    'alssl_ssd300_vgg16_1xb32-6x120k_coco.py': (5000, 1000, 0.75, 32, 80),
    'alssl_faster-rcnn_r50_fpn_1xb16-6x12k_voc0712.py': (2011, 1000, 0.99,
                                                          16, 20),
}
#: The Shapes grid: config name prefix -> (rule, pseudo-labels).
GRID = {
    'alssl_': ('product', True),
    'alssl-random-nopseudo_': ('random', False),
    'alssl-entropy-nopseudo_': ('entropy', False),
    'alssl-inconsistency-nopseudo_': ('inconsistency', False),
    'alssl-filter-nopseudo_': ('filter', False),
    'alssl-product-nopseudo_': ('product', False),
}
POOLS = {'shapes-128px': 'data/shapes/'}
SHAPES_RULES = {
    f'{prefix}ssd-r18-w32_1xb8-6x500it_{pool}.py': (rule, pseudo, pool)
    for prefix, (rule, pseudo) in GRID.items() for pool in POOLS
}


def test_every_setting_is_there():
    assert set(PAPER) | set(SHAPES_RULES) == {osp.basename(p)
                                              for p in CONFIGS}


@pytest.mark.parametrize('name', sorted(PAPER))
def test_papers_settings(name):
    cfg = Config.fromfile(osp.join(FOLDER, name))
    initial, budget, tau, batch, classes = PAPER[name]
    loop = cfg.train_cfg
    assert loop.type == 'mmext.ActiveLearningLoop'
    assert (loop.num_cycles, loop.initial_labeled, loop.budget) == (
        5, initial, budget)
    assert loop.pseudo_label.score_thr == tau
    assert loop.reinit_each_cycle
    assert cfg.train_dataloader.batch_size == batch
    detector = cfg.model.detector
    head = detector.get('roi_head', detector).get('bbox_head')
    assert head.num_classes == classes
    # Scoring reads the same pool as training, with the test pipeline.
    train_set, score_set = (cfg.train_dataloader.dataset,
                            loop.score_dataloader.dataset)
    parts = lambda d: d.get('datasets', [d])  # noqa: E731
    assert [p.ann_file for p in parts(train_set)] == [
        p.ann_file for p in parts(score_set)]
    assert all(p.filter_cfg is None for p in parts(train_set))
    assert all(p.test_mode for p in parts(score_set))
    for scheduler in cfg.param_scheduler:
        assert scheduler.by_epoch is False
    if 'ssd300' in name:
        assert loop.iters_per_cycle == 120000
        assert cfg.model.ramp == dict(ramp_up=32000, ramp_down_start=100000,
                                      total=120000)
        assert cfg.optim_wrapper.optimizer == dict(
            type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4)


@pytest.mark.parametrize('name', sorted(SHAPES_RULES))
def test_shapes_grid_differs_only_in_the_rule(name):
    cfg = Config.fromfile(osp.join(FOLDER, name))
    full = Config.fromfile(osp.join(
        FOLDER, 'alssl_ssd-r18-w32_1xb8-6x500it_shapes-128px.py'))
    rule, pseudo, pool = SHAPES_RULES[name]
    assert cfg.train_cfg.acquisition.rule == rule
    assert (cfg.train_cfg.pseudo_label is not None) == pseudo
    for key in ('model', 'param_scheduler', 'optim_wrapper'):
        assert cfg[key] == full[key]
    assert cfg.train_cfg.iters_per_cycle == full.train_cfg.iters_per_cycle
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.train_cfg.score_dataloader):
        assert loader.dataset.data_root == POOLS[pool]
    assert cfg.val_evaluator.ann_file.startswith(POOLS[pool])


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.basename(p) for p in CONFIGS])
def test_scorer_can_read_every_detector(path):
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    check_scorable(model)
