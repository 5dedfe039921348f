"""Image-recovery metrics of GradInversion (Yin et al., "See through
Gradients: Image Batch Recovery via GradInversion", CVPR 2021, arXiv
2104.07586): PSNR, SSIM and an FFT-2D distance, per image, in plain PyTorch.

All take images in [0, 1] (de-normalised), shape [N, C, H, W], matched one
to one (see :func:`match_batch_order`: a reconstructed batch comes back in
an arbitrary order).
"""
from typing import Tuple

import torch
import torch.nn.functional as F


def _check_pair(recovered: torch.Tensor, original: torch.Tensor) -> None:
    if recovered.shape != original.shape or recovered.dim() != 4:
        raise ValueError(
            'image metrics take two batches of the same shape [N, C, H, W], '
            f'got {tuple(recovered.shape)} and {tuple(original.shape)}')


def psnr(recovered: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, data range 1.

    Returns:
        Tensor: Shape [N], in dB (inf for identical images).
    """
    _check_pair(recovered, original)
    mse = (recovered.double() - original.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse)).float()


def _gaussian_window(size: int, sigma: float,
                     device: torch.device) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64, device=device)
    coords -= (size - 1) / 2
    kernel = torch.exp(-coords**2 / (2 * sigma**2))
    kernel /= kernel.sum()
    return kernel[:, None] * kernel[None, :]


def ssim(recovered: torch.Tensor,
         original: torch.Tensor,
         window: int = 11,
         sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image (Wang et al., 2004), data range 1.

    Gaussian window (11 x 11, sigma 1.5), ``K1 = 0.01``, ``K2 = 0.03``,
    population (co)variances, the mean over the valid (un-padded) positions
    and over channels: the common definition (scikit-image's
    ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1)``).

    Returns:
        Tensor: Shape [N], in [-1, 1].
    """
    _check_pair(recovered, original)
    if min(recovered.shape[-2:]) < window:
        raise ValueError(f'ssim: images of {tuple(recovered.shape[-2:])} '
                         f'are smaller than the {window}x{window} window')
    x, y = recovered.double(), original.double()
    channels = x.shape[1]
    kernel = _gaussian_window(window, sigma, x.device)
    kernel = kernel.expand(channels, 1, window, window).contiguous()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    score = ((2 * mu_x * mu_y + c1) * (2 * cov + c2) /
             ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
    return score.flatten(1).mean(1).float()


def fft2d_distance(recovered: torch.Tensor,
                   original: torch.Tensor) -> torch.Tensor:
    """Distance of the 2-D amplitude spectra per image (lower is better).

    The paper reports an "FFT_2D" distance without defining it; mmext
    defines it as the mean absolute difference of the log amplitude
    spectra, ``mean |log(1 + |FFT(x)|) - log(1 + |FFT(y)|)|`` over
    channels and frequencies (orthonormal FFT, so independent of the image
    size's scaling).

    Returns:
        Tensor: Shape [N], >= 0.
    """
    _check_pair(recovered, original)

    def spectrum(t: torch.Tensor) -> torch.Tensor:
        return torch.log1p(torch.fft.fft2(t.double(), norm='ortho').abs())

    return (spectrum(recovered) -
            spectrum(original)).abs().flatten(1).mean(1).float()


def match_batch_order(recovered: torch.Tensor,
                      original: torch.Tensor) -> Tuple[torch.Tensor,
                                                       torch.Tensor]:
    """Pair each original with a distinct reconstruction, maximising the
    total PSNR (Hungarian assignment on the N x N mean squared errors).

    Returns:
        tuple[Tensor, Tensor]: ``recovered`` reordered to follow
        ``original``, and the permutation used (``recovered[perm]``).
    """
    from scipy.optimize import linear_sum_assignment
    if recovered.shape != original.shape:
        raise ValueError('match_batch_order: batches of different shapes '
                         f'{tuple(recovered.shape)}, {tuple(original.shape)}')
    errors = torch.cdist(original.flatten(1).double(),
                         recovered.flatten(1).double())**2
    rows, cols = linear_sum_assignment(errors.cpu().numpy())
    perm = torch.as_tensor(cols[rows.argsort()], dtype=torch.long)
    return recovered[perm], perm
