"""PSNR/SSIM/FFT-2D, identifiability precision and label recovery
metrics of recovered batches, against direct computations."""
import pytest
import torch

from mmext.evaluation.metrics import (IdentifiabilityPrecision,
                                      ImageReconstructionMetric,
                                      LabelRecoveryAccuracy,
                                      multiset_label_hits)
from mmext.inversion import fft2d_distance, psnr, ssim


def _pairs(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    original = torch.rand(n, 3, 16, 16, generator=g)
    recovered = (original +
                 0.1 * torch.randn(n, 3, 16, 16, generator=g)).clamp(0, 1)
    return recovered, original


def test_image_scores_are_means_of_the_per_image_values():
    recovered, original = _pairs()
    metric = ImageReconstructionMetric()
    # Two batches, one with a pool image that has no reconstruction.
    metric.process(None, [
        dict(recovered=recovered[i], original=original[i]) for i in (0, 1)
    ])
    metric.process(None, [
        dict(recovered=recovered[i], original=original[i]) for i in (2, 3)
    ] + [dict(original=original[0], original_id=9)])
    values = metric.evaluate(4)
    assert values['inversion/psnr'] == pytest.approx(
        psnr(recovered, original).mean().item(), rel=1e-5)
    assert values['inversion/ssim'] == pytest.approx(
        ssim(recovered, original).mean().item(), rel=1e-5)
    assert values['inversion/fft2d'] == pytest.approx(
        fft2d_distance(recovered, original).mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match='lpips'):
        ImageReconstructionMetric(scores=('psnr', 'lpips'))


def _iip_samples(recovered, original, ids):
    """Samples whose features are an id-specific direction (plus a little
    noise on the reconstruction's)."""
    g = torch.Generator().manual_seed(5)
    features = torch.randn(len(ids), 8, generator=g)
    return [
        dict(
            recovered=r,
            original=o,
            original_id=i,
            recovered_feature=f + 0.01 * torch.randn(8, generator=g),
            original_feature=f)
        for r, o, i, f in zip(recovered, original, ids, features)
    ]


def test_identifiability_precision():
    recovered, original = _pairs(seed=1)
    metric = IdentifiabilityPrecision(space='pixel')
    metric.process(None, _iip_samples(recovered, original, [0, 1, 2, 3]))
    values = metric.evaluate(10)
    assert values['inversion/iip_pixel'] == 100.0
    assert values['inversion/iip_pixel_pool_size'] == 4.0
    # Reconstructions 0 and 1 look like each other's originals: 50 %.
    swapped = recovered.clone()
    swapped[[0, 1]] = original[[1, 0]]
    metric = IdentifiabilityPrecision(space='pixel')
    metric.process(None, _iip_samples(swapped, original, [0, 1, 2, 3]))
    # A pool image identical to reconstruction 2 steals it: 25 %.
    metric.process(None, [dict(original=swapped[2], original_id=7)])
    values = metric.evaluate(10)
    assert values['inversion/iip_pixel'] == 25.0
    assert values['inversion/iip_pixel_pool_size'] == 5.0
    # Feature space: cosine similarity of the given features.
    metric = IdentifiabilityPrecision(space='feature')
    samples = _iip_samples(recovered, original, [0, 1, 2, 3])
    samples[3]['recovered_feature'] = 5 * samples[2]['original_feature']
    metric.process(None, samples)
    assert metric.evaluate(10)['inversion/iip_feature'] == 75.0
    with pytest.raises(KeyError, match='original_feature'):
        metric = IdentifiabilityPrecision(space='feature')
        metric.process(None, [dict(recovered=recovered[0],
                                   original=original[0], original_id=0)])
    with pytest.raises(ValueError, match="'feature' or 'pixel'"):
        IdentifiabilityPrecision(space='lpips')


def test_label_recovery_accuracy():
    assert multiset_label_hits([1, 1, 2], [1, 2, 2]) == 2
    assert multiset_label_hits([3, 1], [1, 3]) == 2
    metric = LabelRecoveryAccuracy()
    metric.process(None, [
        dict(batch_labels=[0, 1, 2, 2], recovered_batch_labels=[2, 1, 0, 3]),
        dict(original_id=4)
    ])
    metric.process(None, [
        dict(batch_labels=[5, 6], recovered_batch_labels=[6, 5])
    ])
    assert metric.evaluate(3)['inversion/label_acc'] == pytest.approx(
        100 * 5 / 6)
