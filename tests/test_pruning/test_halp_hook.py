"""mmext.HALPHook through a real Runner: schedule, masks, checkpoint replay,
resume, test-time replay, logging, bad input and DDP (its checkpoint methods
on hand-made checkpoints are in ``test_hook_checkpoints.py``)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from mmext.pruning.allocation import network_latency
from mmext.testing import run_distributed
from ._models import SHAPE, find_hook, halp_tiny_cfg


def halp_hook(runner):
    return find_hook(runner, 'HALPHook')


def test_prunes_on_schedule_to_the_target(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run')
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = halp_hook(runner)
    record = hook.record
    # start=1, interval=3: steps after iterations 3, 6, 9, 12
    assert [s.iteration for s in record.steps] == [3, 6, 9, 12]
    targets = [s.target / record.dense_latency for s in record.steps]
    assert targets == pytest.approx([0.5**(t / 4) for t in (1, 2, 3, 4)])
    for step in record.steps:
        assert step.latency <= step.target * (1 + 1e-6)
    assert record.steps[-1].latency / record.dense_latency > 0.4
    # pruned channels stay at zero after fine-tuning went on
    model = runner.model
    for group in hook.groups:
        dropped = ~hook.keep[group.key]
        for member in group.norms:
            bn = model.get_submodule(member.name)
            index = member.module_index[dropped[member.group_index]]
            assert torch.all(bn.weight[index] == 0)
            assert torch.all(bn.running_var[index] == 0)
    # the latency the hook reports is the LUT's for these masks
    ratio = runner.message_hub.get_scalar('train/halp_latency_ratio')
    assert ratio.current() == pytest.approx(
        network_latency(hook.groups, hook.keep, hook.latency) /
        record.dense_latency)
    ckpt = torch.load(
        osp.join(cfg.work_dir, 'epoch_3.pth'), weights_only=False)
    assert len(ckpt['pruning']['steps']) == 4
    assert ckpt['pruning']['extra'] == {'method': 'halp'}


def test_resume_continues_the_schedule_exactly(halp_cfg, tmp_path):
    full = Runner.from_cfg(halp_cfg(tmp_path / 'full'))
    full.train()
    cfg = halp_cfg(tmp_path / 'part', max_epochs=1)
    Runner.from_cfg(cfg).train()
    cfg = halp_cfg(tmp_path / 'part')
    cfg.resume = True
    cfg.load_from = osp.join(cfg.work_dir, 'epoch_1.pth')
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    a, b = halp_hook(full).record, halp_hook(resumed).record
    assert [s.iteration for s in b.steps] == [3, 6, 9, 12]
    for step_a, step_b in zip(a.steps, b.steps):
        for key in step_a.keep:
            assert torch.equal(step_a.keep[key], step_b.keep[key]), key


def test_test_tool_replays_and_reproduces_the_metric(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run', max_epochs=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    trained = runner.val_loop.run()
    keep = halp_hook(runner).keep
    test_cfg = halp_cfg(tmp_path / 'test', max_epochs=2)
    test_cfg.load_from = osp.join(cfg.work_dir, 'epoch_2.pth')
    tester = Runner.from_cfg(test_cfg)
    metrics = tester.test()
    assert metrics == trained
    replayed = halp_hook(tester).keep
    assert all(torch.equal(keep[k], replayed[k]) for k in keep)


def test_unreachable_target_fails_before_writing(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run', target_ratio=0.01)
    sentinel = osp.join(cfg.work_dir, 'epoch_1.pth')
    with open(sentinel, 'w') as f:
        f.write('previous run')
    with pytest.raises(ValueError, match='unreachable.*Raise target_ratio'):
        Runner.from_cfg(cfg).train()
    assert open(sentinel).read() == 'previous run'
    assert not glob.glob(osp.join(cfg.work_dir, 'iter_*.pth'))


def test_lut_of_another_batch_is_an_error(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run')
    cfg.custom_hooks[0]['latency_batch'] = 32
    with pytest.raises(ValueError, match='batch'):
        Runner.from_cfg(cfg).train()


def test_bad_arguments_are_named():
    from mmext.engine.hooks import HALPHook
    with pytest.raises(ValueError, match='target_ratio'):
        HALPHook(target_ratio=1.5, lut='x.json', input_shape=SHAPE)
    with pytest.raises(ValueError, match='importance'):
        HALPHook(0.5, 'x.json', SHAPE, importance='l2')
    with pytest.raises(ValueError, match='input_shape'):
        HALPHook(0.5, 'x.json', (32, 32))


def test_nothing_prunable_is_an_error(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run')
    cfg.custom_hooks[0]['ignored_layers'] = [
        f'backbone.layer{i}.{j}.conv1' for i in range(1, 5) for j in (0, 1)
    ] + ['backbone.conv1', 'backbone.layer2.0.conv2',
         'backbone.layer3.0.conv2', 'backbone.layer4.0.conv2']
    with pytest.raises(ValueError, match='nothing to prune'):
        Runner.from_cfg(cfg).train()


def _saliency_after_one_update(rank, world_size, data_root, work_dir,
                               batch, accumulate):
    """Train one update; return the hook's accumulated saliency."""
    torch.manual_seed(0)
    cfg = halp_tiny_cfg(data_root, work_dir, max_epochs=1)
    cfg.model.backbone.norm_eval = True  # per-sample BN, as in detectors
    cfg.train_dataloader.batch_size = batch
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.optim_wrapper.accumulative_counts = accumulate
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=accumulate)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.custom_hooks[0].update(start=0, interval=100, num_steps=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.randomness = dict(seed=0)
    if world_size > 1:
        cfg.launcher = 'pytorch'
    runner = Runner.from_cfg(cfg)
    runner.train()
    saliency = halp_hook(runner).saliency
    return saliency.count, {k: v.clone() for k, v in saliency.sums.items()}


def test_saliency_is_that_of_the_union_batch_under_ddp(shapes_tiny,
                                                       tmp_path):
    """2 gloo processes x 4 images == 1 process x 8 images == 1 process x 2
    accumulated micro-batches of 4."""
    count, single = _saliency_after_one_update(0, 1, shapes_tiny,
                                               str(tmp_path / 'one'), 8, 1)
    assert count == 1
    count, accumulated = _saliency_after_one_update(
        0, 1, shapes_tiny, str(tmp_path / 'acc'), 4, 2)
    assert count == 1  # counted once per real update
    ranks = run_distributed(
        _saliency_after_one_update,
        world_size=2,
        args=(shapes_tiny, str(tmp_path / 'ddp'), 4, 1))
    for name, result in [('accumulated', accumulated),
                         ('rank 0', ranks[0][1]), ('rank 1', ranks[1][1])]:
        for key, value in single.items():
            torch.testing.assert_close(
                result[key], value, rtol=1e-4, atol=1e-9,
                msg=lambda m: f'{name}, group {key}: {m}')


def test_ema_copy_and_momentum_are_masked(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run', max_epochs=2)
    cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.5))
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = halp_hook(runner)
    ema = next(h for h in runner.hooks if type(h).__name__ == 'EMAHook')
    ema_model = ema.ema_model.module
    optimizer = runner.optim_wrapper.optimizer
    pruned = 0
    for group in hook.groups:
        dropped = ~hook.keep[group.key]
        for member in group.norms:
            index = member.module_index[dropped[member.group_index]]
            pruned += index.numel()
            bn = ema_model.get_submodule(member.name)
            assert torch.all(bn.weight[index] == 0)
            assert torch.all(bn.running_mean[index] == 0)
            live = runner.model.get_submodule(member.name).weight
            momentum = optimizer.state[live]['momentum_buffer']
            assert torch.all(momentum[index] == 0)
    assert pruned > 0


def test_missing_lut_names_the_tool(halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run')
    cfg.custom_hooks[0]['lut'] = str(tmp_path / 'missing.json')
    with pytest.raises(FileNotFoundError, match='build_latency_lut.py'):
        Runner.from_cfg(cfg).train()
