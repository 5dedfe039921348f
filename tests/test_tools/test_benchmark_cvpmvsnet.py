"""tools/analysis_tools/benchmark_cvpmvsnet.py on tiny sizes.

The released code (JiayuYANG/CVP-MVSNet) is not shipped, so the two-sided
run uses a stand-in ``models/net.py`` written here: it has the released
key layout (the one ``convert_reference_state_dict`` reads) and computes
with mmext's core, so the benchmark's weight transfer, input mapping, loss
and comparisons must give zero differences. The table formatting is
checked on a hand-made record, the memory child on mmext's side alone.
"""
import json
import sys
import textwrap

import pytest
import torch

from mmext.models.mvs import uniform_hypotheses
from mmext.testing.tools import load_tool, markdown_table_rows

STAND_IN = '''
"""Stand-in for the released models/net.py (tests only)."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from mmext.models.mvs import CVPMVSNetCore, convert_reference_state_dict

PYRAMID = [('aa', 3, 64), ('ba', 64, 64), ('bb', 64, 64), ('bc', 64, 32),
           ('bd', 32, 32), ('be', 32, 32), ('bf', 32, 16), ('bg', 16, 16),
           ('bh', 16, 16)]
BLOCKS = [('conv0', 16, 16, 1), ('conv0a', 16, 16, 1), ('conv1', 16, 32, 2),
          ('conv2', 32, 32, 1), ('conv2a', 32, 32, 1), ('conv3', 32, 64, 1),
          ('conv4', 64, 64, 1), ('conv4a', 64, 64, 1)]


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm3d(cout)


class network(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.featurePyramid = nn.Module()
        for name, cin, cout in PYRAMID:
            setattr(self.featurePyramid, 'conv0' + name, nn.Sequential(
                nn.Conv2d(cin, cout, 3, 1, 1), nn.LeakyReLU(0.1)))
        reg = self.cost_reg_refine = nn.Module()
        for name, cin, cout, stride in BLOCKS:
            setattr(reg, name, Block(cin, cout, stride))
        reg.conv5 = nn.Sequential(
            nn.ConvTranspose3d(64, 32, 3, padding=1, bias=False),
            nn.BatchNorm3d(32), nn.ReLU())
        reg.conv6 = nn.Sequential(
            nn.ConvTranspose3d(32, 16, 3, stride=2, padding=1,
                               output_padding=1, bias=False),
            nn.BatchNorm3d(16), nn.ReLU())
        reg.prob0 = nn.Conv3d(16, 1, 3, padding=1)
        self._core = [CVPMVSNetCore(
            num_levels=args.nscale, reference_quirks=True,
            residual_interval=6.8085 if args.mode == 'train' else 'epipolar')]

    def forward(self, ref_img, src_imgs, ref_in, src_in, ref_ex, src_ex,
                depth_min, depth_max):
        tensors = dict(self.named_parameters())
        tensors.update(self.named_buffers())
        mapped = {k[len('core.'):]: v for k, v in
                  convert_reference_state_dict(tensors).items()}
        core = self._core[0].train(self.training)
        out = functional_call(core, mapped, (
            torch.cat([ref_img[:, None], src_imgs], 1),
            torch.cat([ref_in[:, None], src_in], 1),
            torch.cat([ref_ex[:, None], src_ex], 1), depth_min, depth_max))
        return dict(depth_est_list=out['depths'],
                    prob_confidence=out['confidence'])


def sL1_loss(depth_est, depth_gt, mask):
    return F.smooth_l1_loss(depth_est[mask], depth_gt[mask],
                            reduction='mean')
'''

TINY = ['--test-size', '32', '64', '--levels', '2', '--train-size', '32',
        '32', '--batch-size', '2', '--repeats', '2', '--threads', '1',
        '--no-memory']


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/benchmark_cvpmvsnet.py')


@pytest.fixture
def threads():
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_depth_range_gives_the_released_code_48_planes(tool):
    assert tool.DEPTH_MAX == 425 + 47 * 13.625
    assert tool.reference_plane_count(tool.DEPTH_MIN, tool.DEPTH_MAX) == 48
    # DTU's own range: the released torch.range loses a plane
    assert tool.reference_plane_count(425.0, 425.0 + 256 * 2.5) == 47
    with pytest.warns(UserWarning):  # torch.range is deprecated
        released = torch.range(torch.tensor(tool.DEPTH_MIN),
                               torch.tensor(tool.DEPTH_MAX),
                               (tool.DEPTH_MAX - tool.DEPTH_MIN) / 47)
    ours = uniform_hypotheses(torch.tensor([tool.DEPTH_MIN]),
                              torch.tensor([tool.DEPTH_MAX]), 48)[0]
    assert torch.equal(ours, released)


def test_inputs(tool):
    cfg = dict(mode='train', height=64, width=80, levels=2, src_views=4,
               batch=3)
    inputs = tool.make_inputs(cfg, seed=0)
    assert inputs['imgs'].shape == (3, 5, 3, 64, 80)
    assert 0 <= inputs['imgs'].min() and inputs['imgs'].max() <= 1
    assert inputs['intrinsics'].shape == (3, 5, 3, 3)
    assert inputs['extrinsics'].shape == (3, 5, 4, 4)
    assert inputs['depth_min'].tolist() == [425.0] * 3
    assert [d.shape for d in inputs['depths']] == [(3, 64, 80), (3, 32, 40)]
    gt = inputs['depths'][0]
    valid = gt > 425
    assert 0.7 < valid.float().mean() < 0.95
    assert torch.all((gt == 0) | valid) and gt.max() <= 935
    # the ring: every camera looks at the origin, 680 mm away, from a
    # different centre; views of a batch are the same
    k, e = inputs['intrinsics'][0].double(), inputs['extrinsics'][0].double()
    origin = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    centres = []
    for view in range(5):
        cam = e[view] @ origin
        assert cam[2].item() == pytest.approx(tool.RING_DISTANCE, abs=1e-3)
        pixel = k[view] @ cam[:3]
        assert (pixel[:2] / pixel[2]).tolist() == pytest.approx(
            k[view, :2, 2].tolist(), abs=1e-3)
        centres.append(-e[view, :3, :3].T @ e[view, :3, 3])
    assert min((a - b).norm().item() for i, a in enumerate(centres)
               for b in centres[i + 1:]) > 90  # 97 mm: 10 degrees apart
    assert torch.equal(inputs['extrinsics'][0], inputs['extrinsics'][2])
    test_inputs = tool.make_inputs(dict(cfg, mode='test', batch=1))
    assert 'depths' not in test_inputs


def _record(**ratios):
    side = dict(times_s=[1.0, 1.2], median_s=1.1,
                memory=dict(peak_rss_increase_bytes=300 * 2**20,
                            peak_tensor_bytes=200 * 2**20))
    ours = dict(times_s=[0.5, 0.7], median_s=0.6,
                memory=dict(peak_rss_increase_bytes=150 * 2**20,
                            peak_tensor_bytes=100 * 2**20))
    setting = dict(
        description='test forward, 32x64, 2 levels, 4 src, batch 1',
        sides=dict(reference=side, mmext=ours),
        ratios=dict(time=0.6 / 1.1, time_per_round=[0.5, 0.7 / 1.2],
                    memory=0.5, tensor_memory=0.5, **ratios),
        differences=[
            dict(what='depth, level 0 (32x64)', max_abs_diff=0.0,
                 max_abs=700.0, goal=1e-4),
            dict(what='confidence', max_abs_diff=2e-4, max_abs=1.0,
                 goal=1e-4),
            dict(what='gradients (50 tensors)', max_abs_diff=3e-5,
                 max_abs=9.0, goal=None)
        ])
    return dict(date='2026-12-05', repeats=2, warmup=1,
                machine=dict(cpu='Some CPU', threads=2, torch='2.13.0'),
                depth_range=dict(min=425.0, max=1065.375, dtu_max=1065.0,
                                 reference_planes=48,
                                 dtu_reference_planes=47),
                settings=dict(test=setting))


def test_format_tables(tool):
    text = tool.format_tables(_record())
    assert text.startswith('# 2026-12-05, torch 2.13.0, Some CPU, 2 threads, '
                           'fp32, median of 2 rounds after 1 warm-up')
    assert '425..1065.38 mm: 48 planes' in text
    assert "(DTU's 1065 would give 47)" in text
    rows = markdown_table_rows(text, 'peak tensor memory (MiB) |')
    assert rows == [
        ['test forward, 32x64, 2 levels, 4 src, batch 1',
         'reference (released)', '1.100', '300', '200'],
        ['', 'mmext', '0.600', '150', '100'],
        ['', '**mmext / reference**', '**0.55x** (0.50-0.58x)', '**0.50x**',
         '**0.50x**'],
    ]
    diffs = markdown_table_rows(text, '| goal |')
    assert [r[1:] for r in diffs] == [
        ['depth, level 0 (32x64)', '0.00e+00', '700', '<= 0.0001: met'],
        ['confidence', '2.00e-04', '1', '<= 0.0001: NOT met'],
        ['gradients (50 tensors)', '3.00e-05', '9', '—'],
    ]


@pytest.fixture
def stand_in(tmp_path):
    models = tmp_path / 'CVP_MVSNet' / 'models'
    models.mkdir(parents=True)
    (models / 'net.py').write_text(textwrap.dedent(STAND_IN))
    return str(models.parent)


def test_two_sides_agree_with_a_stand_in_reference(tool, stand_in, tmp_path,
                                                   threads, capsys):
    out = tmp_path / 'bench.json'
    cuda = torch.Tensor.cuda
    assert tool.main(TINY + ['--reference', stand_in, '--out',
                             str(out)]) == 0
    assert torch.Tensor.cuda is cuda
    assert 'models' not in sys.modules
    record = json.loads(out.read_text())
    assert list(record['settings']) == ['test', 'train']
    test, train = record['settings']['test'], record['settings']['train']
    for setting in (test, train):
        for side in ('reference', 'mmext'):
            assert len(setting['sides'][side]['times_s']) == 2
            assert setting['sides'][side]['median_s'] > 0
        assert setting['ratios']['time'] == pytest.approx(
            setting['sides']['mmext']['median_s'] /
            setting['sides']['reference']['median_s'])
    diffs = {row['what']: row['max_abs_diff'] for row in test['differences']}
    assert list(diffs) == ['depth, level 0 (32x64)',
                           'depth, level 1 (16x32)', 'confidence']
    assert all(d == 0 for d in diffs.values())
    diffs = {row['what']: row['max_abs_diff'] for row in train['differences']}
    assert list(diffs) == [
        'depth, level 0 (32x32)', 'depth, level 1 (16x16)', 'confidence',
        'loss', 'gradients (50 tensors)',
        'parameters after the Adam step (50 tensors)',
        'BatchNorm running statistics (20 tensors)'
    ]
    # the same computation: depths exact; the loss's mean is reduced
    # differently (mean over masked pixels against sum / count)
    assert diffs['depth, level 0 (32x32)'] == 0
    assert diffs['loss'] < 1e-3 and diffs['gradients (50 tensors)'] < 1e-3
    assert diffs['BatchNorm running statistics (20 tensors)'] == 0
    assert diffs['parameters after the Adam step (50 tensors)'] < 1e-5
    assert record['depth_range']['reference_planes'] == 48
    text = capsys.readouterr().out
    assert text.count('| **mmext / reference** |') == 2


def test_rounds_in_separate_runs_merge(tool, stand_in, tmp_path, threads,
                                       capsys):
    """--warmup 0 compares the first timed round; --round-offset continues
    the alternation; --merge joins the runs."""
    runs = [tmp_path / 'a.json', tmp_path / 'b.json']
    common = TINY + ['--reference', stand_in, '--settings', 'train',
                     '--warmup', '0', '--repeats', '1']
    assert tool.main(common + ['--out', str(runs[0])]) == 0
    assert tool.main(common + ['--round-offset', '1', '--out',
                               str(runs[1])]) == 0
    log = capsys.readouterr().err
    # round 1: the reference first; round 2: mmext first
    order = [line.split('] ')[1].split(':')[0] for line in log.splitlines()
             if '] round' in line]
    assert order == ['round 1, reference', 'round 1, mmext',
                     'round 2, mmext', 'round 2, reference']
    first = json.loads(runs[0].read_text())['settings']['train']
    assert first['differences'][0]['max_abs_diff'] == 0
    merged_path = tmp_path / 'merged.json'
    assert tool.main(['--merge', *map(str, runs), '--out',
                      str(merged_path)]) == 0
    merged = json.loads(merged_path.read_text())
    assert merged['repeats'] == 2 and merged['warmup'] == 0
    setting = merged['settings']['train']
    for side in ('reference', 'mmext'):
        times = [json.loads(r.read_text())['settings']['train']['sides'][side]
                 ['times_s'][0] for r in runs]
        assert setting['sides'][side]['times_s'] == times
        assert setting['sides'][side]['median_s'] == pytest.approx(
            sum(times) / 2)
    assert len(setting['ratios']['time_per_round']) == 2
    assert [r['what'] for r in setting['differences']] == [
        r['what'] for r in first['differences']]
    assert '| **mmext / reference** |' in capsys.readouterr().out


def test_mmext_alone(tool, threads, capsys):
    assert tool.main(TINY + ['--settings', 'test']) == 0
    rows = markdown_table_rows(capsys.readouterr().out,
                               'peak tensor memory (MiB) |')
    assert [r[1] for r in rows] == ['mmext']
    assert float(rows[0][2]) > 0


def test_memory_child(tool, tmp_path):
    """One fresh process measures one call of mmext's side."""
    from mmext.models.mvs import CVPMVSNet
    cfg = dict(mode='test', height=64, width=64, levels=2, src_views=2,
               batch=1)
    torch.save(CVPMVSNet().state_dict(), tmp_path / 'mmext_state.pth')
    torch.save(tool.make_inputs(cfg), tmp_path / 'inputs_test.pth')
    memory = tool.child_memory('mmext', 'test', cfg, str(tmp_path), None, 1)
    assert memory['method'].startswith('VmHWM')
    assert memory['peak_tensor_bytes'] > 2**20
    # the call's peak above the model and inputs, not the parent's or the
    # imports' high-water mark
    assert 0 <= memory['peak_rss_increase_bytes'] < 2**30
    assert memory['peak_rss_bytes'] >= memory['baseline_rss_bytes']
