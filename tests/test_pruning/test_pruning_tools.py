"""tools/pruning/*: the LUT builder on a config, and export of a HALP or an
EPI checkpoint to a slim model that tools/test.py evaluates to the same
metric."""
import os.path as osp

import pytest
from mmengine.runner import Runner

from mmext.pruning.latency import LatencyLUT
from ._models import export_and_test, find_hook, pruning_tool


def test_build_latency_lut_covers_the_model_and_resumes(
        halp_cfg, tmp_path, monkeypatch):
    cfg = halp_cfg(tmp_path / 'run')
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    out = str(tmp_path / 'lut.json')
    tool = pruning_tool('build_latency_lut')
    argv = [cfg_path, '--batch', '2', '--out', out, '--max-points', '3',
            '--warmup', '0', '--repeats', '1']
    assert tool.main(argv) == 0
    lut = LatencyLUT.load(out)
    assert lut.meta['batch'] == 2
    first = dict(lut.entries)
    assert any(k.startswith('2_3_8_32_7_2_1') for k in first)  # the stem
    # a second run resumes: nothing left to measure, nothing changes
    calls = []
    from mmext.pruning.latency import timing
    monkeypatch.setattr(timing, 'measure_layer_latency',
                        lambda *a, **k: calls.append(a) or 1.0)
    assert tool.main(argv) == 0
    assert calls == []
    assert LatencyLUT.load(out).entries == first


def test_export_writes_a_slim_model_with_the_same_metric(
        halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run', max_epochs=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metric = runner.val_loop.run()
    report, slim_metric = export_and_test(
        cfg, osp.join(cfg.work_dir, 'epoch_2.pth'), tmp_path)
    assert report['method'] == 'halp'
    assert report['max_abs_diff'] <= 1e-5
    assert report['params_slim'] < report['params_dense']
    assert report['channels'] == {
        k: int(v.sum())
        for k, v in find_hook(runner, 'HALPHook').keep.items()
    }
    assert slim_metric == pytest.approx(metric)


def test_export_of_an_epi_checkpoint_slimmed_mid_training(epi_cfg, tmp_path):
    """EPI's checkpoint holds the slim weights already (pruned after epoch
    1 of 2): the export rebuilds that architecture and loads them."""
    cfg = epi_cfg(tmp_path / 'run', max_epochs=2, prune_epoch=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metric = runner.val_loop.run()
    keep = find_hook(runner, 'EPIHook').record.current_keep()
    report, slim_metric = export_and_test(
        cfg, osp.join(cfg.work_dir, 'epoch_2.pth'), tmp_path)
    assert report['method'] == 'epi'
    assert report['max_abs_diff'] == 0.0
    assert report['channels'] == {k: int(v.sum()) for k, v in keep.items()}
    assert report['params_slim'] < 0.6 * report['params_dense']
    assert report['latency_slim_ms'] > 0
    assert slim_metric == pytest.approx(metric)


def test_export_refuses_a_checkpoint_without_pruning_record(
        halp_cfg, tmp_path):
    cfg = halp_cfg(tmp_path / 'run', max_epochs=1)
    cfg.custom_hooks = []
    Runner.from_cfg(cfg).train()
    cfg_path = str(tmp_path / 'cfg.py')
    halp_cfg(tmp_path / 'run2').dump(cfg_path)
    with pytest.raises(SystemExit, match='no pruning record'):
        pruning_tool('export_pruned').main([
            cfg_path, osp.join(cfg.work_dir, 'epoch_1.pth'), '--out',
            str(tmp_path / 'out')
        ])
    assert not osp.exists(str(tmp_path / 'out'))
