"""Torch-Pruning's MetaPruner as HALP's benchmark peer: optimiser state
carried through the surgery, protected outputs, HALP's schedule in a real
Runner, the refusal under DDP, and tools/analysis_tools/compare_pruners.py
end to end on tiny data."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch import nn

from mmext.engine.hooks.torch_pruning_peer_hook import (SLIM_MODEL_FILE,
                                                        TorchPruningPeerHook,
                                                        load_slim_model)
from mmext.pruning.torch_pruning_peer import (TorchPruningPeer,
                                              move_parameter_state)
from mmext.testing import run_distributed
from ._models import REPO, SHAPE, Detector, find_hook, resnet18_classifier


def _momentum_optimizer(model: nn.Module) -> torch.optim.SGD:
    """SGD whose momentum buffer of every parameter is twice the parameter,
    so that after any cut the right buffer is still twice its parameter."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for param in model.parameters():
        optimizer.state[param]['momentum_buffer'] = 2 * param.detach()
    return optimizer


def test_state_of_the_surviving_entries_moves_to_the_new_parameter():
    old = nn.Parameter(torch.randn(5, 3, 2))
    other = nn.Parameter(torch.randn(4))
    optimizer = torch.optim.Adam([old, other], lr=0.1)
    old.grad, other.grad = torch.randn_like(old), torch.randn_like(other)
    optimizer.step()
    state = {k: v.clone() for k, v in optimizer.state[old].items()}
    new = nn.Parameter(old.detach()[[0, 2, 4]].clone())
    move_parameter_state(optimizer, old, new, [3, 1])
    assert optimizer.param_groups[0]['params'][0] is new
    assert old not in optimizer.state
    for name in ('exp_avg', 'exp_avg_sq'):
        torch.testing.assert_close(optimizer.state[new][name],
                                   state[name][[0, 2, 4]])
    assert optimizer.state[new]['step'] == state['step']
    # a shape no single cut explains starts without state
    odd = nn.Parameter(torch.randn(2, 3, 1))
    move_parameter_state(optimizer, new, odd, [0])
    assert optimizer.param_groups[0]['params'][0] is odd
    assert odd not in optimizer.state


def test_a_step_removes_channels_keeps_outputs_and_momentum():
    model = resnet18_classifier(width=8, num_classes=5)
    optimizer = _momentum_optimizer(model)
    peer = TorchPruningPeer(model, SHAPE, pruning_ratio=0.5,
                            iterative_steps=2, round_to=2)
    for param in model.parameters():
        param.grad = torch.randn_like(param)
    peer.accumulate_gradients()
    peer.accumulate_gradients()
    total = sum(p.numel() for p in model.parameters())
    peer.step([optimizer])
    assert peer.steps_done == 1
    assert sum(p.numel() for p in model.parameters()) < total
    # the logits keep their classes; the model still runs
    assert model.head.fc.out_features == 5
    assert model(torch.randn(2, *SHAPE)).shape == (2, 5)
    counts = peer.channel_counts()
    assert counts['backbone.layer1.0.conv1'] < 8
    assert all(c % 2 == 0 for n, c in counts.items() if n != 'head.fc')
    # the optimiser holds exactly the new parameters, each with the
    # momentum of its surviving entries (twice their values)
    held = [p for g in optimizer.param_groups for p in g['params']]
    assert {id(p) for p in held} == {id(p) for p in model.parameters()}
    for param in model.parameters():
        torch.testing.assert_close(
            optimizer.state[param]['momentum_buffer'], 2 * param.detach())
    assert peer.gradient_sums == {}
    assert all(p.grad is None for p in model.parameters())
    # training goes on with the carried state
    model(torch.randn(2, *SHAPE)).sum().backward()
    optimizer.step()


def test_fpn_levels_keep_their_channels_pooled_level_included():
    model = Detector(width=8).eval()
    scope = ('backbone', 'neck')
    levels = model.neck(model.backbone(torch.randn(1, *SHAPE)))
    assert len(levels) == 5  # four convolved levels and one max-pooled
    peer = TorchPruningPeer(model, SHAPE, pruning_ratio=0.6,
                            iterative_steps=1, round_to=2, scope=scope)
    for param in model.parameters():
        param.grad = torch.randn_like(param)
    peer.accumulate_gradients()
    total = sum(p.numel() for p in model.parameters())
    peer.step()
    assert sum(p.numel() for p in model.parameters()) < total
    levels = model.neck(model.backbone(torch.randn(1, *SHAPE)))
    assert [level.shape[1] for level in levels] == [16] * 5
    assert model.backbone.layer1[0].conv1.out_channels < 8


def test_bad_arguments_are_named():
    model = resnet18_classifier(width=8)
    with pytest.raises(ValueError, match='pruning_ratio'):
        TorchPruningPeer(model, SHAPE, 1.0, 2)
    with pytest.raises(ValueError, match='importance'):
        TorchPruningPeer(model, SHAPE, 0.5, 2, importance='random')
    with pytest.raises(ValueError, match="no module named \\['nope'\\]"):
        TorchPruningPeer(model, SHAPE, 0.5, 2, ignored_layers=('nope', ))


def _peer_cfg(halp_cfg, work_dir):
    cfg = halp_cfg(work_dir, max_epochs=2)
    cfg.custom_hooks = []
    return cfg


def _peer_hook(**kwargs):
    settings = dict(pruning_ratio=0.4, input_shape=SHAPE, start=1,
                    interval=3, num_steps=4, round_to=2)
    settings.update(kwargs)
    return TorchPruningPeerHook(**settings)


def test_hook_prunes_on_halps_schedule_and_saves_the_slim_model(
        halp_cfg, tmp_path):
    runner = Runner.from_cfg(_peer_cfg(halp_cfg, tmp_path / 'run'))
    runner.register_hook(_peer_hook())
    sizes = []

    def record():
        sizes.append(sum(p.numel() for p in runner.model.parameters()))

    runner.register_hook(_Recorder(record), priority='LOWEST')
    dense = sum(p.numel() for p in runner.model.parameters())
    runner.train()
    # start=1, interval=3: steps after iterations 3, 6, 9 and 12 (0-based)
    shrinks = [i for i in range(1, len(sizes)) if sizes[i] < sizes[i - 1]]
    assert [i for i in shrinks] == [3, 6, 9, 12]
    assert sizes[2] == dense
    hook = find_hook(runner, 'TorchPruningPeerHook')
    assert hook.peer.steps_done == 4
    slim = load_slim_model(osp.join(runner.work_dir, SLIM_MODEL_FILE))
    assert sum(p.numel() for p in slim.parameters()) == sizes[-1]
    assert slim(torch.randn(1, *SHAPE)).shape[-1] == \
        runner.model.head.fc.out_features


class _Recorder(Hook):
    """Calls ``fn()`` after every training iteration."""

    def __init__(self, fn):
        self.fn = fn

    def after_train_iter(self, *args, **kwargs):
        self.fn()


def _train_peer_on_rank(rank, world_size, cfg_dict):
    from mmengine.config import Config
    cfg = Config(cfg_dict)
    cfg.launcher = 'pytorch'
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_peer_hook())
    runner.train()


def test_refuses_to_run_under_ddp(halp_cfg, tmp_path):
    cfg = _peer_cfg(halp_cfg, tmp_path / 'ddp')
    with pytest.raises(RuntimeError, match='one process only'):
        run_distributed(_train_peer_on_rank, world_size=2,
                        args=(cfg.to_dict(), ), timeout=180)


def _compare_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'compare_pruners.py')
    spec = importlib.util.spec_from_file_location('compare_pruners', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_tool_runs_both_pruners_and_resumes(halp_cfg, tmp_path,
                                                     capsys):
    cfg = halp_cfg(tmp_path / 'cfg', max_epochs=1)
    dense = tmp_path / 'dense.pth'
    torch.save(dict(state_dict=resnet18_classifier_like(cfg).state_dict()),
               dense)
    cfg.load_from = str(dense)
    config = str(tmp_path / 'halp.py')
    cfg.dump(config)
    work_dir = str(tmp_path / 'compare')
    argv = [config, '--targets', '0.5', '--seeds', '0', '--work-dir',
            work_dir, '--repeats', '2', '--calibration-batches', '2',
            '--calibration-points', '3', '--rounds', '1']
    tool = _compare_tool()
    assert tool.main(argv) == 0
    results = json.load(open(osp.join(work_dir, 'compare.json')))
    halp, peer = results['runs']['halp-0.5_s0'], results['runs']['tp-0.5_s0']
    calibration = results['calibration']['0.5']
    assert len(calibration['trials']) == 6  # two grids of 3
    assert peer['pruning_ratio'] == calibration['pruning_ratio']
    # (tiny models time at noise level: the ratio itself is not checked)
    assert 0 <= peer['pruning_ratio'] < 0.95
    for run in (halp, peer):
        assert 0 < run['latency'] and 0 <= run['metric'] <= 100
        assert run['params'] <= results['latency']['0.5']['dense_params']
    assert halp['params'] < results['latency']['0.5']['dense_params']
    table = open(osp.join(work_dir, 'compare.md')).read()
    assert 'Torch-Pruning' in table and 'HALP' in table
    # a second call keeps the finished runs
    capsys.readouterr()
    assert tool.main(argv) == 0
    assert 'halp-0.5_s0 done before, kept' in capsys.readouterr().out
    again = json.load(open(osp.join(work_dir, 'compare.json')))
    assert again['runs']['tp-0.5_s0']['seconds'] == peer['seconds']


def resnet18_classifier_like(cfg):
    from mmext.apis import init_model
    return init_model(cfg)


def test_calibration_interpolates_the_measured_latency():
    tool = _compare_tool()
    trials = [dict(pruning_ratio=r, latency=m) for r, m in
              ((0.2, 0.9), (0.4, 0.95), (0.6, 0.5), (0.8, 0.3))]
    # 0.95 at 0.4 is timing noise: the running minimum keeps 0.9 there
    ratio, low, high = tool.interpolate_ratio(trials, 0.7)
    assert (low, high) == (0.4, 0.6)
    assert ratio == pytest.approx(0.4 + 0.2 * (0.9 - 0.7) / (0.9 - 0.5))
    assert tool.interpolate_ratio(trials, 0.95)[0] == pytest.approx(
        0.2 * 0.05 / 0.1)
    assert tool.interpolate_ratio(trials, 0.1)[:2] == (0.8, 0.8)


def test_a_second_round_moves_the_ratio_by_the_one_shot_distance():
    from types import SimpleNamespace
    tool = _compare_tool()
    trials = [dict(pruning_ratio=r, latency=1 - r) for r in (0.2, 0.4, 0.6, 0.8)]
    comparison = SimpleNamespace(results=dict(calibration={
        '0.5': dict(trials=trials, target_latency=0.5, pruning_ratio=0.5)}))
    # round 1 at 0.5 measured 0.3, which one-shot pruning reaches at 0.7:
    # iterative pruning removed 0.2 more, so round 2 asks for 0.3
    ratio = tool.Comparison.corrected_ratio(comparison, '0.5', 0.5, 0.3)
    assert ratio == pytest.approx(0.3)
    assert tool.tp_run_name(0.5, 1, 2) == 'tp-0.5_s1_r2'
    assert tool.tp_run_name(0.5, 1, 1) == 'tp-0.5_s1'
