"""Joint RIO (repeat-factor sampler + RIORoIHead) through MMEngine's Runner:
the banks fill during training, travel in checkpoints, and stay identical
on every rank under 2-process gloo DDP."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.testing.distributed import run_distributed
from mmext.testing.runner_cfg import one_epoch_on

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(
    REPO, 'configs/rio/rio-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_'
    'shapes-lt-128px.py')


def tiny_cfg(data_root: str, work_dir: str) -> Config:
    """The joint RIO Shapes config on the tiny long-tailed files, 1 epoch,
    batch 2, no validation."""
    cfg = one_epoch_on(Config.fromfile(CONFIG), data_root, work_dir)
    cfg.model.roi_head.memory_classes = osp.join(
        data_root, 'annotations/lvis_v1_train.json')
    return cfg


def banks(model) -> torch.Tensor:
    """Every banked entry [N, 1 + D + 4] (class, feature, box target)."""
    return model.roi_head.memory.state_dict()


def test_banks_fill_and_resume_from_the_checkpoint(shapes_tiny_long_tail,
                                                   tmp_path):
    cfg = tiny_cfg(shapes_tiny_long_tail, str(tmp_path / 'run'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    trained = banks(runner.model)
    assert runner.model.roi_head.memory.target_classes
    assert len(trained) > 0
    checkpoint = torch.load(
        osp.join(cfg.work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    assert 'roi_head._extra_state' in checkpoint['state_dict']

    resumed_cfg = tiny_cfg(shapes_tiny_long_tail, str(tmp_path / 'resumed'))
    resumed_cfg.load_from = osp.join(cfg.work_dir, 'epoch_1.pth')
    resumed_cfg.resume = True
    resumed = Runner.from_cfg(resumed_cfg)
    resumed.load_or_resume()
    assert torch.equal(banks(resumed.model), trained)


def _train_ddp(rank: int, world_size: int, data_root: str,
               work_dir: str) -> dict:
    cfg = tiny_cfg(data_root, work_dir)
    cfg.launcher = 'pytorch'
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model.module
    return dict(
        wrapped=type(runner.model).__name__,
        banks=banks(model),
        params=[p.detach().clone() for p in model.parameters()])


def test_ddp_ranks_keep_identical_banks_and_weights(shapes_tiny_long_tail,
                                                    tmp_path):
    a, b = run_distributed(
        _train_ddp, world_size=2,
        args=(shapes_tiny_long_tail, str(tmp_path / 'ddp')),
        timeout=300)
    assert a['wrapped'] == 'MMDistributedDataParallel'
    # The ranks train on disjoint slices; only the gathered pushes make
    # their banks equal.
    assert len(a['banks']) > 0
    assert torch.equal(a['banks'], b['banks'])
    for p, q in zip(a['params'], b['params']):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
