"""mmext.EPIHook through a real Runner: tracking, the trigger and its
fallback, physical slimming mid-training (optimiser, EMA, DDP), resume,
test-time loading, the latency target, bad input and the paper configs."""
import copy
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmext.testing import run_distributed
from ._models import (ITERS_PER_EPOCH, REPO, SHAPE, epi_tiny_cfg, find_hook,
                      make_lut)


def epi_hook(runner):
    return find_hook(runner, 'EPIHook')


def psi(a, b):
    """The similarity of two architectures, written out independently."""
    terms = [abs(x - y) / (x + y) if x + y else 0.0 for x, y in zip(a, b)]
    return 1 - sum(terms) / len(terms)


def expected_trigger(points, window, tau, patience):
    """Index of the first point where EPI should fire, or None."""
    scores = []
    for i, point in enumerate(points):
        if i < window:
            assert point['epi'] is None
            continue
        epi = sum(
            psi(point['architecture'], points[i - j]['architecture'])
            for j in range(1, window + 1)) / window
        assert point['epi'] == pytest.approx(epi)
        scores.append(epi)
        if (len(scores) > patience and epi >= tau
                and all(epi >= s for s in scores[-1 - patience:-1])):
            return i
    return None


def assert_slim(runner, hook):
    """The live model has the pruned widths and the optimiser trains it."""
    model = runner.model.module if hasattr(runner.model,
                                           'module') else runner.model
    keep = hook.record.current_keep()
    for group in hook.groups:
        layer = model.get_submodule(group.key)
        width = getattr(layer, 'out_channels', None) or layer.out_features
        assert width == int(keep[group.key].sum()), group.key
    assert any(int(k.sum()) < k.numel() for k in keep.values())
    trained = {
        id(p)
        for group in runner.optim_wrapper.optimizer.param_groups
        for p in group['params']
    }
    assert trained == {id(p) for p in model.parameters()}


def test_tracks_epi_and_slims_when_it_fires(epi_cfg, tmp_path):
    cfg = epi_cfg(tmp_path / 'run', latest_epoch=3)
    runner = Runner.from_cfg(cfg)
    logged = []
    add_scalars = runner.visualizer.add_scalars

    def spy(scalars, *args, **kwargs):
        logged.append(dict(scalars))
        return add_scalars(scalars, *args, **kwargs)

    runner.visualizer.add_scalars = spy
    runner.train()
    hook = epi_hook(runner)
    points = hook.points
    assert [p['iteration'] for p in points] == list(
        range(2, 2 * len(points) + 1, 2))
    fired = expected_trigger(points, window=2, tau=0.0, patience=1)
    assert fired is not None, 'EPI never fired on this run'
    assert fired == len(points) - 1  # tracking stops at the trigger
    assert hook.pruned['reason'] == 'epi'
    assert hook.pruned['iteration'] == points[fired]['iteration']
    assert hook.record.steps[0].keep.keys() == hook.record.group_sizes.keys()
    assert [int(k.sum()) for k in hook.record.current_keep().values()
            ] == points[fired]['architecture']
    # training went on, on the slim model
    assert runner.iter == 3 * ITERS_PER_EPOCH
    assert_slim(runner, hook)
    assert runner.message_hub.get_scalar('train/epi').current() == \
        pytest.approx(points[fired]['epi'])
    assert osp.getsize(osp.join(cfg.work_dir, 'epi_curve.png')) > 1000
    # the hook's own calls (the LoggerHook forwards train/epi as well)
    epi_logged = [entry['epi'] for entry in logged if 'epi_tau' in entry]
    assert epi_logged == [p['epi'] for p in points if p['epi'] is not None]
    ckpt = torch.load(
        osp.join(cfg.work_dir, 'epoch_3.pth'), weights_only=False)
    assert ckpt['pruning']['extra']['pruned']['reason'] == 'epi'
    assert ckpt['pruning']['extra']['method'] == 'epi'
    key = f'{hook.groups[0].key}.weight'
    assert ckpt['state_dict'][key].shape[0] == int(
        hook.record.current_keep()[hook.groups[0].key].sum())


def test_fallback_prunes_at_the_latest_epoch(epi_cfg, tmp_path):
    cfg = epi_cfg(tmp_path / 'run', tau=2.0,
                  latest_epoch=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = epi_hook(runner)
    assert hook.pruned['reason'] == 'fallback'
    assert hook.pruned['iteration'] == ITERS_PER_EPOCH
    assert hook.pruned['epoch'] == 1.0
    assert_slim(runner, hook)


def test_prune_epoch_zero_trains_the_slim_model_only(epi_cfg, tmp_path):
    cfg = epi_cfg(tmp_path / 'run', max_epochs=1,
                  prune_epoch=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = epi_hook(runner)
    assert hook.pruned == dict(
        iteration=0, epoch=0.0, reason='fixed', pruned_ratio=0.5,
        latency_ratio=None)
    assert hook.points == []
    assert_slim(runner, hook)


def _final_state(runner):
    model = runner.model.module if hasattr(runner.model,
                                           'module') else runner.model
    ema = next(h for h in runner.hooks if type(h).__name__ == 'EMAHook')
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {k: v.clone()
             for k, v in ema.ema_model.state_dict().items()})


def test_resume_after_pruning_matches_the_uninterrupted_run(
        epi_cfg, tmp_path):
    def cfg_for(name, max_epochs):
        cfg = epi_cfg(tmp_path / name, max_epochs,
                      prune_epoch=1)
        cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.5))
        cfg.optim_wrapper.optimizer.lr = 0.05
        cfg.randomness = dict(seed=0)
        return cfg

    full = Runner.from_cfg(cfg_for('full', 3))
    full.train()
    Runner.from_cfg(cfg_for('part', 2)).train()
    cfg = cfg_for('part', 3)
    cfg.resume = True
    cfg.load_from = osp.join(cfg.work_dir, 'epoch_2.pth')
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert epi_hook(resumed).pruned == epi_hook(full).pruned
    assert epi_hook(resumed).points == epi_hook(full).points
    assert_slim(resumed, epi_hook(resumed))
    for a, b in zip(_final_state(full), _final_state(resumed)):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6,
                                       msg=key)


def test_test_run_loads_the_slim_checkpoint(epi_cfg, tmp_path):
    cfg = epi_cfg(tmp_path / 'run', max_epochs=2,
                  prune_epoch=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    trained = runner.val_loop.run()
    test_cfg = epi_cfg(tmp_path / 'test', max_epochs=2,
                       prune_epoch=1)
    test_cfg.load_from = osp.join(cfg.work_dir, 'epoch_2.pth')
    metrics = Runner.from_cfg(test_cfg).test()
    assert metrics['accuracy/top1'] == pytest.approx(
        trained['accuracy/top1'])


def test_latency_target_prunes_to_the_budget(epi_cfg, tmp_path):
    work_dir = str(tmp_path / 'run')
    os.makedirs(work_dir)
    lut = osp.join(work_dir, 'lut.json')
    cfg = epi_cfg(work_dir, max_epochs=1, pruned_ratio=None,
                  latency_ratio=0.5, lut=lut, channel_group_size=2,
                  latency_batch=4, prune_epoch=0)
    make_lut(cfg, lut)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = epi_hook(runner)
    step = hook.record.steps[0]
    assert step.target == pytest.approx(0.5 * hook.record.dense_latency)
    assert 0.4 * step.target < step.latency <= step.target * (1 + 1e-6)
    assert_slim(runner, hook)


def _run_ddp(rank, world_size, data_root, work_dir):
    """Train under 2-process DDP; what each rank saw and ended with."""
    cfg = epi_tiny_cfg(data_root, work_dir, max_epochs=2, criterion='taylor',
                       latest_epoch=2)
    cfg.train_dataloader.batch_size = 4
    cfg.launcher = 'pytorch'
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = epi_hook(runner)
    model = runner.model.module
    return dict(
        points=hook.points,
        pruned=hook.pruned,
        wrapped=type(runner.model).__name__,
        params=[p.detach().clone() for p in model.parameters()],
        widths=[int(k.sum()) for k in hook.record.current_keep().values()])


def test_ddp_ranks_decide_and_train_the_slim_model_together(
        shapes_tiny, tmp_path):
    ranks = run_distributed(
        _run_ddp, world_size=2, args=(shapes_tiny, str(tmp_path / 'ddp')))
    a, b = ranks[0], ranks[1]
    assert a['pruned'] is not None
    assert a['pruned'] == b['pruned']
    assert a['points'] == b['points']
    assert a['widths'] == b['widths']
    assert a['wrapped'] == 'MMDistributedDataParallel'
    # the re-wrapped model kept averaging gradients: replicas are equal
    for p, q in zip(a['params'], b['params']):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


@pytest.mark.parametrize('kwargs, match', [
    (dict(), 'exactly one target'),
    (dict(pruned_ratio=0.5, latency_ratio=0.5), 'exactly one target'),
    (dict(pruned_ratio=1.5), 'pruned_ratio must be in'),
    (dict(latency_ratio=0.5), 'needs lut'),
    (dict(pruned_ratio=0.5, criterion='l1'), 'criterion'),
    (dict(pruned_ratio=0.5, window=0), 'window'),
    (dict(pruned_ratio=0.5, prune_epoch=-1), 'prune_epoch'),
    (dict(pruned_ratio=0.5, input_shape=(64, 64)), 'input_shape'),
])
def test_bad_arguments_are_named(kwargs, match):
    from mmext.engine.hooks import EPIHook
    kwargs.setdefault('input_shape', SHAPE)
    with pytest.raises(ValueError, match=match):
        EPIHook(**kwargs)


@pytest.mark.parametrize('name', [
    'epi-50_resnet50_8xb128-90e_imagenet-224px.py',
    'epi-taylor-50_resnet50_8xb128-90e_imagenet-224px.py'
])
def test_imagenet_configs_build(name):
    from mmext.registry import HOOKS, MODELS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'epi', name))
    init_default_scope(cfg.default_scope)
    hook = HOOKS.build(copy.deepcopy(cfg.custom_hooks[0]))
    assert hook.criterion == ('taylor' if 'taylor' in name else 'magnitude')
    assert hook.tau == (0.944 if 'taylor' in name else 0.983)
    assert (hook.window, hook.patience, hook.pruned_ratio) == (5, 5, 0.5)
    assert hook.by_epoch and hook.interval == 1
    model = MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.parameters())
    assert params == 25_557_032  # torchvision's ResNet-50
    assert cfg.train_cfg.max_epochs == 90
    assert cfg.get('load_from') is None  # EPI trains from scratch


@pytest.mark.parametrize('name, criterion, target', [
    ('epi-50_resnet18-w32_1xb64-12e_shapes-64px.py', 'magnitude',
     dict(pruned_ratio=0.5)),
    ('epi-taylor-50_resnet18-w32_1xb64-12e_shapes-64px.py', 'taylor',
     dict(pruned_ratio=0.5)),
    ('epi-lat50_resnet18-w32_1xb64-12e_shapes-64px.py', 'magnitude',
     dict(latency_ratio=0.5)),
])
def test_shapes_configs_build(name, criterion, target):
    from mmext.registry import HOOKS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'epi', name))
    init_default_scope(cfg.default_scope)
    hook = HOOKS.build(copy.deepcopy(cfg.custom_hooks[0]))
    assert hook.criterion == criterion
    for key, value in target.items():
        assert getattr(hook, key) == value
    assert (hook.by_epoch, hook.interval) == (False, 10)
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.train_dataloader.num_workers == 0
