"""mmext.DirectInverter through MMEngine's Runner on a tiny image folder
(the real data path, CPU): the stage switches at ``stage1_iters``, a run
resumed in stage 2 ends at the weights of an uninterrupted one, 2-process
gloo DDP keeps the ranks' inverses identical, and a test run (what
tools/test.py does) reports PSNR/SSIM and writes the grid and its json."""
import glob
import json
import os.path as osp

import mmcv
import pytest
import torch
from mmengine.runner import Runner

from mmext.testing import run_distributed

MAX_ITERS, STAGE1_ITERS = 8, 4


def stage_history(runner) -> list:
    """The ``stage`` logged at every training iteration so far."""
    return [int(v) for v in
            runner.message_hub.get_scalar('train/stage').data[0]]


def inverse_state(runner) -> dict:
    model = getattr(runner.model, 'module', runner.model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope='module')
def full_run(dci_folder, dci_cfg, target_ckpt, tmp_path_factory):
    """An uninterrupted run of 8 iterations (stage 2 from iteration 4),
    checkpoints every 2: ``(work_dir, final state_dict, stages)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        work_dir = str(tmp_path_factory.mktemp('dci_full'))
        runner = Runner(**dci_cfg(dci_folder, work_dir, target_ckpt,
                                  MAX_ITERS, STAGE1_ITERS))
        runner.train()
        return work_dir, inverse_state(runner), stage_history(runner)
    finally:
        torch.set_num_threads(threads)


def test_stage_switches_at_stage1_iters_in_a_run(full_run):
    _, state, stages = full_run
    assert stages == [1] * STAGE1_ITERS + [2] * (MAX_ITERS - STAGE1_ITERS)
    assert state and all(k.startswith('inverses.') for k in state)


def test_checkpoints_carry_the_inverses_only(full_run):
    work_dir, state, _ = full_run
    checkpoint = torch.load(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
                            map_location='cpu', weights_only=False)
    assert set(checkpoint['state_dict']) == set(state)
    for key, value in state.items():
        assert torch.equal(checkpoint['state_dict'][key], value), key


def test_resume_in_stage2_ends_at_the_uninterrupted_weights(
        full_run, dci_folder, dci_cfg, target_ckpt, tmp_path):
    work_dir, final, _ = full_run
    cfg = dci_cfg(dci_folder, str(tmp_path), target_ckpt, MAX_ITERS,
                  STAGE1_ITERS)
    cfg.update(load_from=osp.join(work_dir, 'iter_6.pth'), resume=True)
    runner = Runner(**cfg)
    runner.train()
    assert runner.iter == MAX_ITERS
    stages = stage_history(runner)
    assert stages[-2:] == [2, 2]  # iterations 6 and 7 ran in stage 2
    resumed = inverse_state(runner)
    assert set(resumed) == set(final)
    for key, value in final.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=1e-6,
                                   msg=key)

    # not vacuous: the checkpoint it resumed from is 2 steps away
    start = torch.load(osp.join(work_dir, 'iter_6.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    assert any(not torch.allclose(start[k].float(), v.float())
               for k, v in final.items())


def _train_ddp(rank: int, world_size: int, cfg: dict) -> dict:
    cfg = dict(cfg, launcher='pytorch')
    runner = Runner(**cfg)
    seen = []  # the sum of each batch this rank trained on
    runner.model.module.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(
            float((args[0] if args else kwargs['inputs']).sum())),
        with_kwargs=True)
    runner.train()
    return dict(
        wrapped=type(runner.model).__name__,
        params={k: p.detach().clone()
                for k, p in runner.model.module.named_parameters()},
        stages=stage_history(runner),
        seen=seen)


def test_ddp_ranks_end_with_identical_inverses(dci_folder, dci_cfg,
                                               target_ckpt, tmp_path):
    cfg = dci_cfg(dci_folder, str(tmp_path), target_ckpt, max_iters=3,
                  stage1_iters=2)
    a, b = run_distributed(_train_ddp, world_size=2, args=(cfg, ),
                           timeout=300)
    assert a['wrapped'] == b['wrapped'] == 'MMDistributedDataParallel'
    assert a['stages'] == b['stages'] == [1, 1, 2]
    # the ranks trained on different images: only synchronised gradients
    # keep their weights equal
    assert a['seen'] != b['seen']
    assert set(a['params']) == set(b['params'])
    assert all(k.startswith('inverses.') for k in a['params'])
    for key, value in a['params'].items():
        assert torch.equal(value, b['params'][key]), key
    saved = torch.load(osp.join(str(tmp_path), 'iter_3.pth'),
                       map_location='cpu', weights_only=False)['state_dict']
    for key, value in a['params'].items():
        assert torch.equal(saved[key], value), key


def test_test_run_scores_and_writes_the_grid(full_run, dci_folder, dci_cfg,
                                             target_ckpt, tmp_path):
    work_dir, _, _ = full_run
    cfg = dci_cfg(dci_folder, str(tmp_path), target_ckpt, MAX_ITERS,
                  STAGE1_ITERS)
    cfg.update(
        load_from=osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
        custom_hooks=[dict(type='mmext.DirectInversionGridHook',
                           num_images=4, baseline=dict(iterations=5))])
    runner = Runner(**cfg)
    metrics = runner.test()
    assert set(metrics) == {'inversion/psnr', 'inversion/ssim'}
    assert 5 < metrics['inversion/psnr'] < 100
    assert 0 < metrics['inversion/ssim'] <= 1

    grids = glob.glob(osp.join(runner.log_dir, '*.png'))
    assert [osp.basename(p) for p in grids] == ['direct_inversion_grid.png']
    grid = mmcv.imread(grids[0])  # BGR
    # 3 rows (originals, zero-shot, baseline) x 4 columns of 32 px, 2 px
    # gaps
    assert grid.shape == (3 * 32 + 2 * 2, 4 * 32 + 3 * 2, 3)
    # the first original is the first test image, colours kept
    first = mmcv.imread(osp.join(dci_folder, 'train', 'a', '000.png'))
    assert (grid[:32, :32] == first).all()
    assert (grid[32:34] == 255).all()  # the gap between rows

    with open(osp.splitext(grids[0])[0] + '.json') as f:
        summary = json.load(f)
    assert set(summary) == {'zero_shot', 'baseline', 'num_images'}
    assert summary['num_images'] == 4
    for name in ('zero_shot', 'baseline'):
        assert set(summary[name]) == {'psnr', 'ssim', 'seconds_per_image'}
        assert summary[name]['seconds_per_image'] > 0
    # the test set is these 4 images: the grid's zero-shot row scores what
    # the runner's metric scored
    assert summary['zero_shot']['psnr'] == pytest.approx(
        metrics['inversion/psnr'], abs=1e-3)
    assert summary['zero_shot']['ssim'] == pytest.approx(
        metrics['inversion/ssim'], abs=1e-4)
