"""PSNR and SSIM against scikit-image; the FFT-2D distance and the batch
matching by their definitions."""
import numpy as np
import pytest
import skimage.metrics as skimage_metrics
import torch

from mmext.inversion.image_metrics import fft2d_distance, \
    match_batch_order, psnr, ssim


def _pair(seed=0, shape=(4, 3, 32, 32)):
    generator = torch.Generator().manual_seed(seed)
    original = torch.rand(shape, generator=generator)
    noise = 0.1 * torch.randn(shape, generator=generator)
    return (original + noise).clamp(0, 1), original


def test_psnr_matches_scikit_image():
    recovered, original = _pair()
    ours = psnr(recovered, original)
    for i in range(len(original)):
        ref = skimage_metrics.peak_signal_noise_ratio(
            original[i].numpy(), recovered[i].numpy(), data_range=1)
        assert ours[i].item() == pytest.approx(ref, rel=1e-5)


def test_ssim_matches_scikit_image():
    recovered, original = _pair(shape=(3, 3, 24, 40))
    ours = ssim(recovered, original)
    for i in range(len(original)):
        ref = skimage_metrics.structural_similarity(
            original[i].numpy().astype(np.float64),
            recovered[i].numpy().astype(np.float64),
            channel_axis=0,
            data_range=1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False)
        assert ours[i].item() == pytest.approx(ref, abs=1e-5)
    assert torch.allclose(ssim(original, original), torch.ones(3))


def test_fft2d_distance_definition():
    recovered, original = _pair()
    assert torch.all(fft2d_distance(original, original) == 0)
    expected = (np.log1p(np.abs(np.fft.fft2(recovered[1].numpy(),
                                            norm='ortho'))) -
                np.log1p(np.abs(np.fft.fft2(original[1].numpy(),
                                            norm='ortho'))))
    assert fft2d_distance(recovered, original)[1].item() == pytest.approx(
        np.abs(expected).mean(), rel=1e-5)


def test_batch_order_is_recovered():
    recovered, original = _pair()
    shuffled = recovered[torch.tensor([2, 0, 3, 1])]
    matched, perm = match_batch_order(shuffled, original)
    assert torch.equal(matched, recovered)
    assert perm.tolist() == [1, 3, 0, 2]


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r'\[N, C, H, W\]'):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match='smaller than'):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
