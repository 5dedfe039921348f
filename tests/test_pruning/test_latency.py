"""Latency LUT of HALP (mmext.pruning.latency)."""
import json
import os

import pytest
import torch
from torch import nn

from mmext.pruning.latency import (LatencyLUT, LatencyModel, LayerSignature,
                                   build_lut, channel_grid, check_compatible,
                                   collect_layer_signatures,
                                   device_fingerprint, latency_jobs,
                                   measure_forward_latency,
                                   measure_layer_latency,
                                   measure_network_latency, median_of_minima,
                                   predict_network_latency, timing)


def conv(cin=64, cout=128, size=56, k=3, stride=2, batch=256, **kwargs):
    return LayerSignature('conv', batch, cin, cout, size, k, stride,
                          kwargs.pop('padding', k // 2), **kwargs)


def bilinear(cin, cout):
    return 0.5 + 0.01 * cin + 0.02 * cout + 0.001 * cin * cout


def grid_lut(sig, cins=(8, 16, 32), couts=(8, 24, 40), fn=bilinear):
    return LatencyLUT({sig.key(i, o): fn(i, o) for i in cins for o in couts},
                      LatencyLUT.make_meta('cpu', sig.batch))


# Keys ----------------------------------------------------------------------


def test_key_is_halps():
    assert conv().key(64, 128) == '256_64_128_56_3_2_1'
    assert conv().key(32, 96) == '256_32_96_56_3_2_1'
    assert conv(3, 64, 224, 7, 2, 1).key(3, 64) == '1_3_64_224_7_2_1'


def test_key_extensions():
    rect = LayerSignature('conv', 1, 8, 8, (32, 16), (3, 1), (2, 1), (1, 0))
    assert rect.key(8, 8) == '1_8_8_32x16_3x1_2x1_1'
    assert conv(padding=0).key(4, 4) == '256_4_4_56_3_2_1_p0'
    dilated = conv(padding=2, dilation=2, stride=1)
    assert dilated.key(4, 4) == '256_4_4_56_3_1_1_d2'
    linear = LayerSignature('linear', 4, 512, 1000)
    assert linear.key(512, 1000) == 'linear_4_512_1000_1_1_1_1'
    assert linear.shape_key() != LayerSignature(
        'conv', 4, 512, 1000).shape_key()


def test_depthwise_groups_follow_channels():
    dw = conv(32, 32, 112, 3, 1, 1, groups=32)
    assert dw.channelwise
    assert dw.key(32, 32) == '1_32_32_112_3_1_32'
    assert dw.key(16, 16) == '1_16_16_112_3_1_16'
    assert dw.key(16, 24) == dw.key(16, 16)  # coupled: the smaller count
    assert dw.shape_key() == '1_*_*_112_3_1_*'
    assert not conv(32, 32, groups=4).channelwise


def test_shape_key_ignores_channels_only():
    assert conv(64, 128).shape_key() == conv(16, 8).shape_key()
    assert conv(64, 128).shape_key() == '256_*_*_56_3_2_1'
    assert conv(stride=1).shape_key() != conv().shape_key()
    assert conv(batch=1).shape_key() != conv().shape_key()


def test_unit_signature_and_out_size():
    unit = conv().unit()
    assert conv().out_size == (28, 28) and unit.out_size == (28, 28)
    assert unit.key(64, 128) == 'convbnrelu_256_64_128_56_3_2_1'
    assert unit.shape_key() == 'convbnrelu_256_*_*_56_3_2_1'
    dw_unit = conv(8, 8, groups=8).unit()
    assert dw_unit.channelwise and dw_unit.key(4, 4).endswith('_4')
    with pytest.raises(ValueError, match='only a conv'):
        LayerSignature('linear', 1, 4, 4).unit()


# Signatures of a model -----------------------------------------------------


def test_collect_resnet18_signatures():
    from mmdet.models.backbones import ResNet
    model = ResNet(18, base_channels=16)
    model.train()
    flags = [m.training for m in model.modules()]
    sigs = collect_layer_signatures(model, torch.rand(2, 3, 64, 96),
                                    batch=8, pools=True)
    stem = sigs['conv1']
    assert (stem.kind, stem.in_size, stem.kernel_size, stem.stride,
            stem.batch) == ('conv', (64, 96), (7, 7), (2, 2), 8)
    assert stem.key(3, 16) == '8_3_16_64x96_7_2_1'
    assert sigs['maxpool'].key(16, 16) == 'maxpool_8_16_16_32x48_3_2_16'
    down = sigs['layer2.0.conv1']
    assert (down.in_size, down.stride, down.in_channels,
            down.out_channels) == ((16, 24), (2, 2), 16, 32)
    assert sigs['layer2.0.downsample.0'].key(16, 32) == '8_16_32_16x24_1_2_1'
    assert sigs['layer4.1.conv2'].in_size == (2, 3)
    assert len([s for s in sigs.values() if s.kind == 'conv']) == 20
    assert [m.training for m in model.modules()] == flags


def test_collect_linear_and_tuple_inputs():

    class Net(nn.Module):

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 4)
            self.tok = nn.Linear(4, 2, bias=False)

        def forward(self, x, tokens):
            return self.fc(x), self.tok(tokens)

    net = Net().eval()
    sigs = collect_layer_signatures(
        net, (torch.rand(3, 6), torch.rand(3, 5, 4)))
    same = collect_layer_signatures(nn.Conv2d(2, 2, 3, padding='same'),
                                    torch.rand(1, 2, 5, 5))
    assert same[''].key(2, 2) == '1_2_2_5_3_1_1'
    assert sigs['fc'] == LayerSignature('linear', 3, 6, 4, bias=True)
    assert sigs['tok'].key(4, 2) == 'linear_3_4_2_1x5_1_1_1'
    assert not net.training


# Interpolation -------------------------------------------------------------


@pytest.mark.parametrize('cin,cout', [(12, 30), (20, 8), (31, 9), (8, 24),
                                      (4, 50), (64, 2)])
def test_bilinear_interpolation_is_exact(cin, cout):
    sig = conv()
    lut = grid_lut(sig)
    assert sig.key(cin, cout) not in lut.entries or (cin, cout) == (8, 24)
    assert lut.lookup(sig, cin, cout) == pytest.approx(bilinear(cin, cout))


def test_interpolation_of_union_of_grids():
    sig = conv()
    lut = grid_lut(sig)
    for cin in (32, 64):
        for cout in (16, 64):
            lut.add(sig.key(cin, cout), bilinear(cin, cout))
    for cin, cout in [(48, 50), (20, 60), (40, 12), (70, 70)]:
        assert lut.lookup(sig, cin, cout) == pytest.approx(
            bilinear(cin, cout))


def test_rows_with_one_point_do_not_bend_the_surface():
    sig = conv()
    lut = grid_lut(sig)
    lut.add(sig.key(48, 64), 1000.0)  # a lone point in its cin row
    assert lut.lookup(sig, 40, 12) == pytest.approx(bilinear(40, 12))
    assert lut.lookup(sig, 48, 64) == 1000.0


def test_exact_keys_zero_channels_and_clamping():
    sig = conv()
    lut = grid_lut(sig, fn=lambda i, o: 10.0 - 0.2 * i)
    lut.add(sig.key(16, 24), 99.0)  # measured points win
    assert lut.lookup(sig, 16, 24) == 99.0
    assert lut.lookup(sig, 0, 24) == 0.0
    assert lut.lookup(sig, 16, 0) == 0.0
    assert lut.lookup(sig, 100, 8) == 0.0  # extrapolates to -10


def test_depthwise_interpolates_in_one_channel_count():
    dw = conv(64, 64, 28, 3, 1, 1, groups=64)
    lut = LatencyLUT({dw.key(c, c): 0.1 + 0.02 * c for c in (16, 32, 64)})
    assert lut.lookup(dw, 24, 24) == pytest.approx(0.1 + 0.02 * 24)
    assert lut.lookup(dw, 80, 80) == pytest.approx(0.1 + 0.02 * 80)
    assert lut.lookup(dw, 24, 40) == lut.lookup(dw, 24, 24)


def test_missing_family_names_key_and_tool():
    lut = grid_lut(conv())
    with pytest.raises(KeyError, match='build_latency_lut.py') as err:
        lut.lookup(conv(stride=1), 8, 8)
    assert '256_8_8_56_3_1_1' in str(err.value)


def test_cache_follows_add():
    sig = conv()
    lut = grid_lut(sig)
    before = lut.lookup(sig, 12, 30)
    lut.add(sig.key(16, 40), 1000.0)
    assert lut.lookup(sig, 12, 30) != before


# Persistence and compatibility --------------------------------------------


def test_save_load_round_trip(tmp_path):
    sig = conv()
    lut = grid_lut(sig)
    path = str(tmp_path / 'sub' / 'lut.json')
    lut.save(path)
    loaded = LatencyLUT.load(path)
    assert loaded.entries == lut.entries and loaded.meta == lut.meta
    assert loaded.meta['units'] == 'ms' and loaded.meta['batch'] == 256
    assert loaded.lookup(sig, 12, 30) == pytest.approx(bilinear(12, 30))
    assert json.load(open(path))['entries'] == lut.entries
    assert os.listdir(tmp_path / 'sub') == ['lut.json']


def test_batch_mismatch_raises():
    meta = LatencyLUT.make_meta('cpu', 256)
    with pytest.raises(ValueError, match=r'batch 256.*batch 8.*--batch 8'):
        check_compatible(meta, 'cpu', 8)
    with pytest.raises(ValueError, match='float16'):
        check_compatible(meta, 'cpu', 256, torch.float16)


def test_device_mismatch_warns(recwarn):
    lut = LatencyLUT(meta=LatencyLUT.make_meta('cpu', 4))
    check_compatible(lut, 'cpu', 4, torch.float32)
    assert not recwarn.list
    lut.meta['device'] = 'cuda:Titan V|torch 1.4|cudnn 7400'
    with pytest.warns(UserWarning, match='Titan V.*' + 'threads'):
        check_compatible(lut, 'cpu', 4)
    assert device_fingerprint('cpu').startswith('cpu:')


# Building ------------------------------------------------------------------


class FakeTimer:
    """Stands in for measure_layer_latency; fails after ``fail_after``."""

    def __init__(self, fail_after=None):
        self.calls = []
        self.fail_after = fail_after

    def __call__(self, sig, cin, cout, **kwargs):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append(sig.key(cin, cout))
        return bilinear(cin, cout)


def test_build_lut_resumes(tmp_path, monkeypatch):
    path = str(tmp_path / 'lut.json')
    sig = conv(batch=1)
    first = [(sig, [8, 16], [8, 16])]
    timer = FakeTimer()
    monkeypatch.setattr(timing, 'measure_layer_latency', timer)
    lut = build_lut(first, path, batch=4, progress=False)
    assert len(timer.calls) == 4 and all(
        c.startswith('4_') for c in timer.calls)
    assert lut.meta['batch'] == 4

    timer.calls.clear()
    lut = build_lut(first + [(sig, [16, 32], [16])], path, batch=4,
                    progress=False)
    assert timer.calls == ['4_32_16_56_3_2_1']
    assert len(LatencyLUT.load(path).entries) == 5

    with pytest.raises(ValueError, match='batch 4'):
        build_lut(first, path, batch=8, progress=False)


def test_interrupted_build_leaves_readable_cache(tmp_path, monkeypatch):
    path = str(tmp_path / 'lut.json')
    jobs = [(conv(batch=2), [8, 16, 24], [8, 16]),
            (LayerSignature('maxpool', 1, 8, 8, 56, 3, 2, 1), [8, 16, 32],
             [])]
    monkeypatch.setattr(timing, 'measure_layer_latency',
                        FakeTimer(fail_after=5))
    with pytest.raises(KeyboardInterrupt):
        build_lut(jobs, path, batch=2, progress=False)
    assert len(LatencyLUT.load(path).entries) == 5

    timer = FakeTimer()
    monkeypatch.setattr(timing, 'measure_layer_latency', timer)
    lut = build_lut(jobs, path, batch=2, progress=False)
    assert len(timer.calls) == 4 and len(lut.entries) == 9

    # resume=False: a failing rebuild leaves the existing file untouched.
    before = open(path).read()
    monkeypatch.setattr(timing, 'measure_layer_latency',
                        FakeTimer(fail_after=3))
    with pytest.raises(KeyboardInterrupt):
        build_lut(jobs, path, batch=2, resume=False, progress=False)
    assert open(path).read() == before


def test_measure_every_kind():
    sigs = [
        conv(4, 6, 8, 3, 1, 2),
        conv(4, 4, 8, 3, 1, 2, groups=4),
        LayerSignature('linear', 2, 8, 3, (1, 5), bias=True),
        LayerSignature('maxpool', 2, 4, 4, 8, 3, 2, 1, groups=4),
        LayerSignature('avgpool', 2, 4, 4, 8, 2, 2, 0, groups=4),
        conv(4, 6, 8, 3, 1, 2).unit(),
    ]
    for sig in sigs:
        ms = measure_layer_latency(sig, 4, 6, warmup=1, repeats=3)
        assert isinstance(ms, float) and ms > 0


def test_channel_grid():
    assert channel_grid(64, 8, 8) == [8, 16, 24, 32, 40, 48, 56, 64]
    assert channel_grid(3, 8, 8) == [3]
    assert channel_grid(20, 8, 8) == [8, 16, 20]
    grid = channel_grid(512, 8, 6)
    assert len(grid) == 6 and grid[0] == 8 and grid[-1] == 512
    assert all(v % 8 == 0 for v in grid)
    gaps = [b - a for a, b in zip(grid, grid[1:])]
    assert max(gaps) - min(gaps) <= 8
    with pytest.raises(ValueError):
        channel_grid(64, 8, 1)


def test_latency_jobs_cover_families():
    sigs = [conv(3, 64, 224, 7), conv(64, 64), conv(32, 128)]
    jobs = latency_jobs(sigs, step=16, max_points=3, epilogue=True)
    grids = {s.shape_key(): (cins, couts) for s, cins, couts in jobs}
    assert grids['256_*_*_224_7_2_1'] == ([3], [16, 48, 64])
    assert grids['256_*_*_56_3_2_1'] == ([16, 48, 64], [16, 80, 128])
    assert grids['convbnrelu_256_*_*_56_3_2_1'] == grids['256_*_*_56_3_2_1']
    assert len(jobs) == 4


def test_predict_network_latency():
    sig = conv()
    lut = grid_lut(sig)
    unit_lut = grid_lut(sig.unit(), fn=lambda i, o: 2 * bilinear(i, o))
    lut.entries.update(unit_lut.entries)
    lut.invalidate_cache()
    sigs = {'a': sig, 'b': conv(16, 24)}
    total = predict_network_latency(sigs, lut)
    assert total == pytest.approx(bilinear(64, 128) + bilinear(16, 24))
    total = predict_network_latency(sigs, lut, {'a': (12, 30)},
                                    epilogue=True)
    assert total == pytest.approx(2 * bilinear(12, 30) +
                                  2 * bilinear(16, 24))
    assert lut.cost(sig, 12, 30, epilogue=True) == pytest.approx(
        2 * bilinear(12, 30))
    pool = LayerSignature('maxpool', 256, 64, 64, 56, 3, 2, 1, groups=64)
    lut.add(pool.key(64, 64), 1.0)
    assert lut.cost(pool, 64, 64, epilogue=True) == 1.0  # no epilogue


def test_measure_network_latency():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    net[1].eval()
    ms = measure_network_latency(net, torch.rand(1, 3, 8, 8), warmup=1,
                                 repeats=2, calls=2)
    assert isinstance(ms, float) and ms > 0
    assert net.training and not net[1].training
    small = nn.Conv2d(3, 1, 1)
    both = measure_forward_latency([net, small], (torch.rand(1, 3, 8, 8), ),
                                   warmup=1, repeats=2, calls=1)
    assert len(both) == 2 and all(ms > 0 for ms in both)
    assert small.training


def test_median_of_minima_and_median_lut():
    assert median_of_minima([[3, 1, 2], [5, 4], [10, 0.5]]) == 1
    first = LatencyLUT({'a': 1.0, 'b': 4.0}, {'batch': 1})
    second = LatencyLUT({'a': 3.0, 'b': 2.0, 'c': 5.0}, {'batch': 1})
    third = LatencyLUT({'a': 2.0, 'b': 9.0}, {'batch': 1})
    merged = LatencyLUT.median([first, second, third])
    assert merged.entries == {'a': 2.0, 'b': 4.0, 'c': 5.0}
    assert merged.meta == {'batch': 1, 'rounds': 3}


def test_latency_model_predicts_the_networks_sum():
    sig = conv()
    lut = grid_lut(sig)
    model = LatencyModel(lut, {'a': sig, 'b': conv(16, 24)})
    assert model.batch == 256 and not model.extended
    assert model.layer_cost('a', 12, 30) == pytest.approx(bilinear(12, 30))
    assert model.predict() == predict_network_latency(model.signatures, lut)
    assert model.predict({'a': (12, 30)}) == pytest.approx(
        bilinear(12, 30) + bilinear(16, 24))
    with pytest.raises(KeyError):
        model.layer_cost('c', 8, 8)
