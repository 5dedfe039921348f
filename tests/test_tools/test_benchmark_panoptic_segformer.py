"""tools/analysis_tools/benchmark_panoptic_segformer.py and the shared
benchmark helpers of mmext.utils.benchmark.

The benchmark runs end to end on a 128 x 160 image with the full-size R-50
models (random weights; about 15 s on one core).
"""
import json

import pytest
import torch

from mmext.testing.tools import load_tool
from mmext.utils.benchmark import (cpu_peak_bytes, interleaved_rounds,
                                   interleaved_times, strip_pretrained,
                                   time_call)


def test_interleaved_times_order():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in 'AB'}
    times = interleaved_times(fns, 2, torch.device('cpu'))
    assert calls == ['A', 'B', 'A', 'B', 'A', 'B']  # warm-up, 2 rounds
    assert {name: len(t) for name, t in times.items()} == {'A': 2, 'B': 2}


def test_interleaved_rounds_run_lazily_in_order():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in 'AB'}
    rounds = interleaved_rounds(fns, 2, calls=2, warmup=2)
    assert calls == []  # nothing runs before the first round is asked for
    first = next(rounds)
    assert calls == ['A', 'A', 'B', 'B'] + ['A', 'A', 'B', 'B']
    calls.append('between rounds')
    assert [len(t) for t in next(rounds).values()] == [2, 2]
    assert calls[-5:] == ['between rounds', 'A', 'A', 'B', 'B']
    assert next(rounds, None) is None
    assert list(first) == ['A', 'B']
    assert all(s >= 0 for seconds in first.values() for s in seconds)


def test_time_call_measures_seconds():
    import time
    assert 0.009 < time_call(lambda: time.sleep(0.01)) < 1.0


def test_cpu_peak_bytes():
    mib = 2**20

    def two_at_once():
        a = torch.ones(mib, dtype=torch.uint8)
        b = torch.ones(mib, dtype=torch.uint8)
        del a, b
        c = torch.ones(mib, dtype=torch.uint8)  # fits in a's freed place
        return c

    assert cpu_peak_bytes(two_at_once) == 2 * mib


def test_strip_pretrained():
    cfg = dict(backbone=dict(init_cfg=dict(type='Pretrained'),
                             pretrained='x.pth', depth=50),
               heads=[dict(init_cfg=dict(type='Xavier'), num_classes=3)])
    assert strip_pretrained(cfg) == dict(
        backbone=dict(init_cfg=None, pretrained=None, depth=50),
        heads=[dict(init_cfg=None, num_classes=3)])


def test_benchmark_runs(tmp_path, capsys):
    tool = load_tool('analysis_tools/benchmark_panoptic_segformer.py')
    out = tmp_path / 'bench.json'
    threads = torch.get_num_threads()
    try:
        assert tool.main(['--size', '128', '160', '--repeats', '1',
                          '--threads', '1', '--out', str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    record = json.loads(out.read_text())
    models = record['models']
    assert sorted(models) == ['mask2former', 'panoptic_segformer']
    for result in models.values():
        assert len(result['latency_s']) == 1
        assert result['latency_median_s'] > 0
        assert result['peak_memory_bytes'] > 0
    # the R-50 models: about 51 M (Panoptic SegFormer) and 44 M parameters
    assert 48e6 < models['panoptic_segformer']['params'] < 54e6
    assert 43e6 < models['mask2former']['params'] < 45e6
    ratio = record['ratio_mmext_over_mask2former']
    assert ratio['latency'] == pytest.approx(
        models['panoptic_segformer']['latency_median_s'] /
        models['mask2former']['latency_median_s'])
    assert ratio['peak_memory'] > 0
    table = capsys.readouterr().out
    assert '| Panoptic SegFormer R-50 (mmext) | 50.7 |' in table
    assert '| Mask2Former R-50 (mmdet) | 44.0 |' in table
    assert '| mmext / Mask2Former |' in table
