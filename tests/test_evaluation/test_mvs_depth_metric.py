"""Tests of mmext.MVSDepthMetric (depth-map errors of MVS predictions).

Predictions are hand-made so that every error, threshold count and mean is
known exactly; the ratios must be pixel-weighted over the whole set, and
two ranks must give what one process gives.
"""
import numpy as np
import pytest
import torch

from mmext.evaluation.metrics import MVSDepthMetric
from mmext.registry import METRICS


def _sample(gt, error, depth_min=400.0, depth_max=900.0, **extra):
    gt = torch.tensor(gt, dtype=torch.float32)
    depth = gt + torch.tensor(error, dtype=torch.float32)
    return dict(depth=depth, gt_depth=gt, depth_min=depth_min,
                depth_max=depth_max, **extra)


# Valid errors 1, 3, 5, 2, 0.5 (the third pixel has no ground truth, so its
# huge error must not count); depth range 500: 0.5% = 2.5, 1% = 5, 2% = 10.
FIVE = _sample([[500, 500, 0], [500, 500, 500]],
               [[1, -3, 1000], [5, -2, 0.5]])
# One valid pixel, error 10.
ONE = _sample([[0, 600], [0, 0]], [[7, 10], [0, 0]])


def _evaluate(samples, **kwargs):
    metric = MVSDepthMetric(**kwargs)
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def test_known_errors_give_exact_fractions_and_mae():
    out = _evaluate([FIVE])
    assert out['mvs/mae'] == pytest.approx(11.5 / 5)
    assert out['mvs/within_2.0'] == pytest.approx(3 / 5)  # 1, 2, 0.5
    assert out['mvs/within_4.0'] == pytest.approx(4 / 5)
    assert out['mvs/within_0.5pct_range'] == pytest.approx(3 / 5)  # <= 2.5
    assert out['mvs/within_1.0pct_range'] == pytest.approx(5 / 5)  # <= 5
    assert out['mvs/within_2.0pct_range'] == pytest.approx(5 / 5)
    assert out['mvs/num_valid'] == 5
    assert not any('level' in key for key in out)


def test_range_thresholds_follow_each_image_range():
    # The same errors in a range of 100: 1% = 1, 2% = 2.
    sample = _sample([[500, 500, 0], [500, 500, 500]],
                     [[1, -3, 1000], [5, -2, 0.5]], depth_max=500.0)
    out = _evaluate([sample], range_thresholds=(0.01, 0.02))
    assert out['mvs/within_1.0pct_range'] == pytest.approx(2 / 5)
    assert out['mvs/within_2.0pct_range'] == pytest.approx(3 / 5)


def test_ratios_are_pixel_weighted_over_the_set():
    out = _evaluate([FIVE, ONE])
    # 3 of 6 valid pixels, not the mean of per-image ratios (3/5 + 0) / 2.
    assert out['mvs/within_2.0'] == pytest.approx(3 / 6)
    assert out['mvs/within_4.0'] == pytest.approx(4 / 6)
    assert out['mvs/mae'] == pytest.approx((11.5 + 10) / 6)
    assert out['mvs/within_2.0pct_range'] == pytest.approx(6 / 6)
    assert out['mvs/num_valid'] == 6
    # Across batches: the same.
    metric = MVSDepthMetric()
    metric.process(None, [FIVE])
    metric.process(None, [ONE])
    assert metric.evaluate(2) == out


def test_numpy_inputs_and_nan_predictions():
    sample = dict(depth=np.array([[np.nan, 501.0]]),
                  gt_depth=np.array([[500.0, 500.0]]),
                  depth_min=np.float32(400), depth_max=torch.tensor(900.0))
    out = _evaluate([sample], abs_thresholds=(1.0, ))
    assert out['mvs/within_1.0'] == pytest.approx(1 / 2)  # NaN never within


def test_per_level_errors():
    levels = dict(
        level_depths=[torch.full((2, 2), 502.0), torch.full((1, 1), 490.0)],
        level_gt_depths=[torch.tensor([[500.0, 0], [500, 500]]),
                         torch.tensor([[500.0]])])
    out = _evaluate([dict(FIVE, **levels), dict(ONE, **levels)])
    assert out['mvs/mae_level0'] == pytest.approx(2.0)
    assert out['mvs/mae_level1'] == pytest.approx(10.0)
    with pytest.raises(KeyError, match='level_gt_depths'):
        _evaluate([dict(FIVE, level_depths=levels['level_depths'])])


def test_missing_ground_truth_names_the_key_and_the_fix():
    sample = dict(FIVE)
    del sample['gt_depth']
    with pytest.raises(KeyError, match="gt_depth.*dataloader must load"):
        _evaluate([sample])
    with pytest.raises(KeyError, match='gt_depth'):
        _evaluate([dict(FIVE, gt_depth=None)])
    with pytest.raises(ValueError, match='no pixel with ground truth'):
        _evaluate([_sample([[0.0]], [[1.0]])])
    with pytest.raises(ValueError, match='differ in shape'):
        _evaluate([dict(FIVE, depth=torch.zeros(3, 3))])
    with pytest.raises(ValueError, match='abs_thresholds'):
        MVSDepthMetric(abs_thresholds=(0, ))


def test_registered_in_the_mmext_scope():
    metric = METRICS.build(
        dict(type='mmext.MVSDepthMetric', abs_thresholds=[1]))
    assert isinstance(metric, MVSDepthMetric)
    from mmengine.registry import METRICS as ROOT
    assert 'MVSDepthMetric' not in ROOT.module_dict


def _ddp_evaluate(rank, world_size):
    samples = [FIVE, ONE, _sample([[500.0, 510.0]], [[3.0, 0.0]])]
    total = -(-len(samples) // world_size) * world_size
    indices = [i % len(samples) for i in range(total)][rank::world_size]
    metric = MVSDepthMetric()
    metric.process(None, [samples[i] for i in indices])
    return metric.evaluate(len(samples))


def test_two_ranks_equal_one_process():
    from mmext.testing import run_distributed
    single = _ddp_evaluate(0, 1)
    assert single['mvs/within_2.0'] == pytest.approx(4 / 8)
    results = run_distributed(_ddp_evaluate, world_size=2)
    assert results[0] == results[1]
    for key, value in single.items():
        assert results[0][key] == pytest.approx(value, abs=1e-12)
