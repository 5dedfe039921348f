"""Image-reconstruction terms of unsupervised multi-view stereo.

The self-supervised CVP-MVSNet (Yang, Alvarez, Liu, "Self-supervised
Learning of Depth Inference for Multi-view Stereo", CVPR 2021,
arXiv:2104.02972, Sec. 3.1) starts from a network trained with an image
reconstruction loss and no depth label; its authors did not release that
stage. The terms here are those of the unsupervised MVS line the paper
compares with (Khot et al., "Learning Unsupervised Multi-View Stereopsis
via Robust Photometric Consistency", arXiv:1905.02706, public repository
tejaskhot/unsup_mvs): every source image is warped onto the reference view
through the estimated depth; the per-pixel error mixes colour and image
gradient differences; only the best ``k`` source views count at each pixel
(occlusion robustness); a structural (SSIM) term and an edge-aware depth
smoothness complete it.

All functions are plain PyTorch. Images are ``[B, C, H, W]`` in [0, 1],
cameras follow :mod:`mmext.models.mvs.geometry` (pixel centres at integer
coordinates, world-to-camera extrinsics, depth = reference z).
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from kornia.metrics import ssim as kornia_ssim
from torch import Tensor

from .geometry import homography_grid, relative_projection

__all__ = [
    'INVALID_ERROR', 'warp_by_depth', 'photometric_errors',
    'topk_reconstruction', 'masked_ssim', 'edge_aware_smoothness'
]

#: The error given to a (pixel, source view) whose projection leaves the
#: source image, so that top-k selection prefers every valid view to it
#: (Khot et al. add 1e4 the same way).
INVALID_ERROR = 1e4


def warp_by_depth(src_images: Tensor, depth: Tensor, ref_intrinsics: Tensor,
                  ref_extrinsics: Tensor, src_intrinsics: Tensor,
                  src_extrinsics: Tensor) -> Tuple[Tensor, Tensor]:
    """The source image seen from the reference view through ``depth``.

    Bilinear sampling (zero padding) at the projection of every reference
    pixel at its depth, through the same homography as the cost volume
    (:func:`~mmext.models.mvs.homography_grid`). Differentiable with
    respect to ``depth`` and ``src_images``; the camera geometry carries no
    gradient.

    Args:
        src_images (Tensor): ``[B, C, H, W]``.
        depth (Tensor): ``[B, H, W]`` reference depths.
        ref_intrinsics (Tensor): ``[B, 3, 3]`` at this resolution.
        ref_extrinsics (Tensor): ``[B, 4, 4]`` world-to-camera.
        src_intrinsics (Tensor): ``[B, 3, 3]`` at this resolution.
        src_extrinsics (Tensor): ``[B, 4, 4]``.

    Returns:
        tuple[Tensor, Tensor]: The warped image ``[B, C, H, W]`` and the
        validity ``[B, H, W]`` (bool): the projection lies in front of the
        source camera and inside its image (pixel centres ``0 .. W - 1``,
        ``0 .. H - 1``).
    """
    batch, _, height, width = src_images.shape
    with torch.no_grad():
        rot, trans = relative_projection(ref_intrinsics, ref_extrinsics,
                                         src_intrinsics, src_extrinsics)
    grid = homography_grid(rot.to(depth.dtype), trans.to(depth.dtype),
                           depth.unsqueeze(1), height, width)
    grid = grid.view(batch, height, width, 2)
    valid = (grid.abs() <= 1).all(dim=-1)
    warped = F.grid_sample(src_images, grid.to(src_images.dtype),
                           mode='bilinear', padding_mode='zeros',
                           align_corners=True)
    return warped, valid


def _gradients(images: Tensor) -> Tuple[Tensor, Tensor]:
    """Forward differences along x and y, zero in the last column / row;
    ``[..., H, W]`` each."""
    grad_x = F.pad(images[..., :, 1:] - images[..., :, :-1], (0, 1, 0, 0))
    grad_y = F.pad(images[..., 1:, :] - images[..., :-1, :], (0, 0, 0, 1))
    return grad_x, grad_y


def photometric_errors(ref_image: Tensor, warped: Tensor, valid: Tensor,
                       gradient_weight: float = 0.5) -> Tensor:
    """Per-pixel reconstruction error of every warped source view.

    ``(1 - g) * mean_c |I_w - I_r| + g * mean_c (|dx I_w - dx I_r| +
    |dy I_w - dy I_r|)`` with ``g = gradient_weight`` (Khot et al.: 0.5,
    their colour term a Huber loss; L1 here, an assumption), and
    :data:`INVALID_ERROR` where the projection is invalid.

    Args:
        ref_image (Tensor): ``[B, C, H, W]``.
        warped (Tensor): ``[B, S, C, H, W]``, S source views.
        valid (Tensor): ``[B, S, H, W]`` bool.
        gradient_weight (float): ``g`` in [0, 1].

    Returns:
        Tensor: ``[B, S, H, W]``.
    """
    ref = ref_image.unsqueeze(1)
    colour = (warped - ref).abs().mean(dim=2)
    ref_dx, ref_dy = _gradients(ref)
    dx, dy = _gradients(warped)
    gradient = ((dx - ref_dx).abs() + (dy - ref_dy).abs()).mean(dim=2)
    error = (1 - gradient_weight) * colour + gradient_weight * gradient
    return torch.where(valid, error, error.new_full((), INVALID_ERROR))


def topk_reconstruction(errors: Tensor, k: int) -> Tensor:
    """Mean of the ``k`` smallest valid errors per pixel.

    At each pixel the ``k`` source views with the smallest error are kept
    (fewer where fewer exist); errors at or above :data:`INVALID_ERROR`
    (invalid projections) are dropped. The result is the mean over all the
    kept (pixel, view) entries of the batch, 0 when none is valid.

    Args:
        errors (Tensor): ``[B, S, H, W]`` from :func:`photometric_errors`.
        k (int): Views kept per pixel (>= 1).

    Returns:
        Tensor: Scalar.
    """
    k = min(int(k), errors.shape[1])
    best = errors.topk(k, dim=1, largest=False).values
    keep = best < INVALID_ERROR
    total = torch.where(keep, best, best.new_zeros(())).sum()
    return total / keep.sum().clamp(min=1)


def masked_ssim(ref_image: Tensor, warped: Tensor, valid: Tensor,
                window_size: int = 3) -> Tensor:
    """``(1 - SSIM) / 2`` of one warped view, averaged over valid pixels.

    SSIM from kornia (Gaussian window of ``window_size``, C1 = 0.01^2,
    C2 = 0.03^2); Khot et al. average over a 3x3 box instead.

    Args:
        ref_image (Tensor): ``[B, C, H, W]``.
        warped (Tensor): ``[B, C, H, W]``.
        valid (Tensor): ``[B, H, W]`` bool.
        window_size (int): Odd window size.

    Returns:
        Tensor: Scalar, 0 when no pixel is valid.
    """
    similarity = kornia_ssim(warped, ref_image, window_size,
                             padding='same').mean(dim=1)
    dissimilarity = (1 - similarity) / 2
    total = torch.where(valid, dissimilarity,
                        dissimilarity.new_zeros(())).sum()
    return total / valid.sum().clamp(min=1)


def edge_aware_smoothness(depth: Tensor, image: Tensor,
                          edge_weight: float = 1.0) -> Tensor:
    """First-order depth smoothness, relaxed at image edges.

    ``mean(|dx d'| exp(-w mean_c |dx I|) + |dy d'| exp(-w mean_c |dy I|))``
    over pixels, with ``d' = d / mean(d)`` per image (an assumption of
    mmext, as in Godard et al.'s Monodepth2: the term does not depend on
    the scene's scale, so one weight serves DTU's millimetres and other
    units).

    Args:
        depth (Tensor): ``[B, H, W]``, positive.
        image (Tensor): ``[B, C, H, W]``.
        edge_weight (float): ``w`` (Khot et al.: 1).

    Returns:
        Tensor: Scalar; 0 for a constant depth.
    """
    mean = depth.mean(dim=(1, 2), keepdim=True).clamp(min=1e-6)
    depth_dx, depth_dy = _gradients(depth / mean)
    image_dx, image_dy = _gradients(image)
    weight_x = torch.exp(-edge_weight * image_dx.abs().mean(dim=1))
    weight_y = torch.exp(-edge_weight * image_dy.abs().mean(dim=1))
    # the padded last column / row has zero depth gradient
    return (depth_dx.abs() * weight_x + depth_dy.abs() * weight_y).mean()
