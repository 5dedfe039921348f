"""HALP and EPI on a stock mmpretrain config: ``resnet/resnet18_8xb32_in1k.py``
as mmpretrain ships it, with the data pointed at the tiny Shapes crops, a
narrow network, and the pruning hook added to ``custom_hooks``. Trained by a
real Runner, exported to a slim model that evaluates to the same metric."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.models import ImageClassifier

from mmext.apis.inference import load_config
from ._models import SHAPE, export_and_test, find_hook, make_lut

STOCK = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'


def _stock_cfg(data_root: str, work_dir: str, hook: dict) -> Config:
    """The stock config on the tiny Shapes crops (8 per batch, 2 epochs),
    ResNet-18 at width 8, ``hook`` as its only custom hook."""
    cfg = load_config(STOCK)
    cfg.work_dir = work_dir
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.head.update(num_classes=8, in_channels=64)
    cfg.data_preprocessor.num_classes = 8
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    for key, split in (('train_dataloader', 'train'),
                       ('val_dataloader', 'val'),
                       ('test_dataloader', 'val')):
        cfg[key] = dict(
            batch_size=8, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=split == 'train'),
            dataset=dict(
                type='CustomDataset', data_root=data_root,
                ann_file=f'classification/meta/{split}.txt',
                data_prefix=f'classification/{split}', pipeline=pipeline))
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = 0.01
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.randomness = dict(seed=0)
    cfg.custom_hooks = [hook]
    return cfg


def _train_and_export(cfg: Config, tmp_path, hook_name: str) -> tuple:
    runner = Runner.from_cfg(cfg)
    assert cfg.default_scope == 'mmpretrain'
    assert isinstance(runner.model, ImageClassifier)
    runner.train()
    metric = runner.val_loop.run()
    report, slim_metric = export_and_test(
        cfg, osp.join(cfg.work_dir, 'epoch_2.pth'), tmp_path)
    assert report['params_slim'] < report['params_dense']
    assert slim_metric == pytest.approx(metric)
    return find_hook(runner, hook_name), report


def test_halp_prunes_a_stock_mmpretrain_classifier(shapes_tiny, tmp_path):
    work_dir = str(tmp_path / 'run')
    hook = dict(type='mmext.HALPHook', target_ratio=0.5, input_shape=SHAPE,
                start=1, interval=3, num_steps=4, importance='taylor',
                channel_group_size=2, latency_batch=4,
                lut=osp.join(work_dir, 'lut.json'))
    cfg = _stock_cfg(shapes_tiny, work_dir, hook)
    make_lut(cfg, hook['lut'])
    halp, report = _train_and_export(cfg, tmp_path, 'HALPHook')
    assert report['method'] == 'halp'
    assert report['max_abs_diff'] <= 1e-5
    assert report['channels'] == {
        k: int(v.sum()) for k, v in halp.keep.items()}


def test_epi_slims_a_stock_mmpretrain_classifier(shapes_tiny, tmp_path):
    hook = dict(type='mmext.EPIHook', input_shape=SHAPE, pruned_ratio=0.5,
                criterion='magnitude', by_epoch=False, interval=2,
                window=2, patience=1, tau=0.0, latest_epoch=2,
                prune_epoch=1)
    cfg = _stock_cfg(shapes_tiny, str(tmp_path / 'run'), hook)
    epi, report = _train_and_export(cfg, tmp_path, 'EPIHook')
    assert report['method'] == 'epi'
    # The checkpoint holds the slim weights already: the export is exact.
    assert report['max_abs_diff'] == 0.0
    keep = epi.record.current_keep()
    assert report['channels'] == {k: int(v.sum()) for k, v in keep.items()}
