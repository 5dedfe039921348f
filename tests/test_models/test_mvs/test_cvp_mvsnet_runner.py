"""mmext.CVPMVSNet through MMEngine's Runner on the tiny Shapes-MVS set (the
real data path, CPU).

The Shapes configs run with a few overrides that keep them at seconds: the
tiny preset (32x40 train images: 2 levels, whose coarsest 8x10 level is
even; 64x80 test images: 3 levels), 8 initial planes, batch 2, no workers,
a checkpoint every 3 iterations. Checked: the loss falls over an
uninterrupted run; a run resumed from its iteration-3 checkpoint trains on
the same batches and ends at the same weights and optimizer state;
2-process gloo DDP keeps the ranks' weights identical while they train on
different batches; a test run (what tools/test.py does) with the 128x160
test config reports every ``mvs/*`` key of ``mmext.MVSDepthMetric`` over
the test set's valid pixels.
"""
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmext.testing import run_distributed

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
TRAIN_CONFIG = osp.join(REPO, 'configs', 'cvp_mvsnet',
                        'cvp-mvsnet_2l-nsrc2_1xb4-1600it_shapes-mvs-64x80.py')
TEST_CONFIG = osp.join(REPO, 'configs', 'cvp_mvsnet',
                       'cvp-mvsnet_3l-nsrc4_1xb4-1600it_shapes-mvs-128x160.py')
MAX_ITERS, CKPT_INTERVAL = 6, 3
NUM_PLANES = 8


def _no_split(cfg: Config, *splits: str) -> None:
    for split in splits:
        cfg[f'{split}_cfg'] = None
        cfg[f'{split}_dataloader'] = None
        cfg[f'{split}_evaluator'] = None


def train_cfg(data_root: str, work_dir: str, max_iters: int = MAX_ITERS,
              name: str = 'train') -> Config:
    """The Shapes training config as a seconds-long run on the tiny set.

    Args:
        data_root: The tiny Shapes-MVS output.
        work_dir: The run's work dir.
        max_iters: Training iterations (checkpoint every 3).
        name: Experiment name; the visualizer and logger are process-wide
            instances by name, so every run in one process gets its own.
    """
    cfg = Config.fromfile(TRAIN_CONFIG)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'cvpmvsnet_{name}_{osp.basename(work_dir)}'
    cfg.visualizer.name = cfg.experiment_name
    cfg.model.num_initial_planes = NUM_PLANES
    loader = cfg.train_dataloader
    loader.dataset.data_root = osp.join(data_root, 'train')
    loader.batch_size = 2
    loader.num_workers = 0
    loader.persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    _no_split(cfg, 'val', 'test')
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=CKPT_INTERVAL)
    cfg.randomness = dict(seed=0, deterministic=False)
    cfg.log_level = 'WARNING'
    return cfg


class BatchRecorder(Hook):
    """Records the weights when training starts, and each trained batch's
    ``(scan, view, light)`` samples and loss."""

    def __init__(self) -> None:
        self.start = None
        self.batches = []
        self.losses = []

    def before_train(self, runner) -> None:
        self.start = model_state(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        meta = data_batch['meta']
        self.batches.append(
            list(zip(meta['scan'], meta['view'], meta['light'])))
        self.losses.append(float(outputs['loss'].detach()))


def model_state(runner) -> dict:
    model = getattr(runner.model, 'module', runner.model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train(cfg: Config, **kwargs):
    """Build a Runner, train it; the runner and its :class:`BatchRecorder`."""
    cfg.update(kwargs)
    runner = Runner.from_cfg(cfg)
    recorder = BatchRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    return runner, recorder


def assert_nested_close(a, b, path='') -> None:
    """Equal structure, tensors equal within 1e-6."""
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=path)
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            assert_nested_close(a[key], b[key], f'{path}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_nested_close(x, y, f'{path}[{i}]')
    else:
        assert a == b, path


@pytest.fixture(scope='module')
def full_run(shapes_mvs_tiny, tmp_path_factory):
    """An uninterrupted run of 6 iterations: ``(work_dir, final weights,
    optimizer state_dict, BatchRecorder)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        work_dir = str(tmp_path_factory.mktemp('cvpmvsnet_full'))
        runner, recorder = train(train_cfg(shapes_mvs_tiny, work_dir))
        return (work_dir, model_state(runner),
                runner.optim_wrapper.state_dict(), recorder)
    finally:
        torch.set_num_threads(threads)


def test_the_loss_falls_on_the_tiny_set(full_run):
    work_dir, final, _, recorder = full_run
    losses = recorder.losses
    assert len(losses) == MAX_ITERS and all(map(math.isfinite, losses))
    # The first two batches (the initial weights) against the last two.
    first, last = np.mean(losses[:2]), np.mean(losses[-2:])
    assert last < 0.8 * first, losses
    assert any(not torch.equal(recorder.start[k], v)
               for k, v in final.items())
    assert sorted(osp.basename(p) for p in glob.glob(
        osp.join(work_dir, 'iter_*.pth'))) == ['iter_3.pth', 'iter_6.pth']


def test_resume_ends_at_the_uninterrupted_weights(full_run,
                                                  shapes_mvs_tiny, tmp_path):
    work_dir, final, final_optim, full = full_run
    checkpoint = osp.join(work_dir, f'iter_{CKPT_INTERVAL}.pth')
    runner, resumed = train(
        train_cfg(shapes_mvs_tiny, str(tmp_path), name='resume'),
        load_from=checkpoint, resume=True)
    assert runner.iter == MAX_ITERS
    # The InfiniteSampler continues where the interrupted run stopped (the
    # loop skips the 3 batches already trained): the same samples.
    assert resumed.batches == full.batches[CKPT_INTERVAL:]
    state = model_state(runner)
    assert set(state) == set(final)
    for key, value in final.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=1e-6,
                                   msg=key)
    assert_nested_close(runner.optim_wrapper.state_dict(), final_optim,
                        'optim_wrapper')
    # Not vacuous: the resumed run started from the iteration-3 weights,
    # 3 Adam steps away from the final ones.
    assert any(not torch.allclose(resumed.start[k].float(), v.float())
               for k, v in final.items())


def _train_ddp(rank: int, world_size: int, cfg: Config) -> dict:
    cfg.launcher = 'pytorch'
    runner, recorder = train(cfg)
    return dict(
        wrapped=type(runner.model).__name__,
        start={k: p.detach().clone() for k, p in recorder.start.items()},
        params={k: p.detach().clone()
                for k, p in runner.model.module.named_parameters()},
        batches=recorder.batches,
        losses=recorder.losses)


def test_ddp_ranks_end_with_identical_weights(shapes_mvs_tiny, tmp_path):
    iters = 3
    cfg = train_cfg(shapes_mvs_tiny, str(tmp_path), max_iters=iters,
                    name='ddp')
    a, b = run_distributed(_train_ddp, world_size=2, args=(cfg, ),
                           timeout=300)
    assert a['wrapped'] == b['wrapped'] == 'MMDistributedDataParallel'
    assert len(a['losses']) == len(b['losses']) == iters
    assert all(map(math.isfinite, a['losses'] + b['losses']))
    # The ranks trained on different samples (per-rank sampler slices):
    # only synchronised gradients keep their weights equal.
    seen_a = {s for batch in a['batches'] for s in batch}
    seen_b = {s for batch in b['batches'] for s in batch}
    assert not seen_a & seen_b
    assert set(a['params']) == set(b['params']) and a['params']
    for key, value in a['params'].items():
        assert torch.equal(value, b['params'][key]), key
    # Same start on both ranks, and training moved the weights.
    for key, value in a['start'].items():
        assert torch.equal(value, b['start'][key]), key
    assert any(not torch.equal(a['start'][k], v)
               for k, v in a['params'].items())
    saved = torch.load(osp.join(str(tmp_path), f'iter_{iters}.pth'),
                       map_location='cpu', weights_only=False)['state_dict']
    for key, value in a['params'].items():
        assert torch.equal(saved[key], value), key


def test_test_run_reports_the_mvs_metrics(full_run, shapes_mvs_tiny,
                                          tmp_path):
    from mmext.datasets.dtu_io import read_pfm
    work_dir = full_run[0]
    cfg = Config.fromfile(TEST_CONFIG)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'cvpmvsnet_test_{osp.basename(str(tmp_path))}'
    cfg.visualizer.name = cfg.experiment_name
    cfg.model.num_initial_planes = NUM_PLANES
    cfg.load_from = osp.join(work_dir, f'iter_{MAX_ITERS}.pth')
    cfg.log_level = 'WARNING'
    _no_split(cfg, 'train', 'val')
    cfg.optim_wrapper = None
    cfg.param_scheduler = None
    test_root = osp.join(shapes_mvs_tiny, 'test')
    loader = cfg.test_dataloader
    loader.dataset.data_root = test_root
    loader.num_workers = 0
    loader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    assert runner.model.core.num_levels == 3
    metrics = runner.test()

    assert set(metrics) == {
        'mvs/mae', 'mvs/within_2.0', 'mvs/within_4.0',
        'mvs/within_0.5pct_range', 'mvs/within_1.0pct_range',
        'mvs/within_2.0pct_range', 'mvs/num_valid'
    }
    # Every valid ground-truth pixel of the 5 test views (64x80) counts.
    gt = [read_pfm(p) for p in sorted(glob.glob(
        osp.join(test_root, 'Depths', '*', '*.pfm')))]
    assert len(gt) == 5 and gt[0].shape == (64, 80)
    assert metrics['mvs/num_valid'] == sum(int((d > 0).sum()) for d in gt)
    assert 0 < metrics['mvs/mae'] < 640  # the 256 x 2.5 mm depth range
    within = [v for k, v in metrics.items() if 'within' in k]
    assert all(0 <= v <= 1 for v in within)
    assert metrics['mvs/within_2.0'] <= metrics['mvs/within_4.0']
