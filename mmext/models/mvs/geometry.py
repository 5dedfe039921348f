"""Camera geometry of plane-sweep multi-view stereo.

Conventions (shared by every function here):

* Intrinsics ``K`` are ``[B, 3, 3]`` pinhole matrices in pixels of the image
  they are used with; extrinsics ``E`` are ``[B, 4, 4]`` world-to-camera
  matrices ``[[R, t], [0, 0, 0, 1]]`` (OpenCV axes: x right, y down, z
  forward), as in MVSNet's ``cam.txt`` files.
* Depth is the z coordinate in the reference camera.
* Pixel centres sit at integer coordinates: pixel ``(x, y)`` of a ``H x W``
  map is the point ``(x, y)``, ``x = 0 .. W - 1``. Normalised
  ``grid_sample`` coordinates are therefore ``x / ((W - 1) / 2) - 1`` with
  ``align_corners=True``, which samples exactly at the projected point.

The homography of a fronto-parallel plane at depth ``d`` maps a reference
pixel ``p`` to ``rot @ p * d + trans`` (homogeneous) in the source view, with
``(rot, trans)`` from :func:`relative_projection`; this is the differentiable
warping of MVSNet (Yao et al., ECCV 2018) used at every level of CVP-MVSNet
(Yang et al., "Cost Volume Pyramid Based Depth Inference for Multi-View
Stereo", CVPR 2020, arXiv:1912.08329, Sec. 3.2).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'scale_intrinsics', 'relative_projection', 'pixel_grid',
    'homography_grid', 'warp_volume'
]

# Normalised sampling coordinates are clamped to [-OUTSIDE, OUTSIDE]: any
# value beyond about 1 + 2 / W is already outside the map (zero padding
# samples 0 there), and bounded values keep grid_sample's index arithmetic
# finite. Points on or behind the source camera's plane are sent to
# -OUTSIDE.
OUTSIDE = 4.0
MIN_DEPTH = 1e-6


def scale_intrinsics(intrinsics: Tensor, factor: float) -> Tensor:
    """Intrinsics of an image downsampled by ``factor``.

    Rows 0 and 1 of ``K`` (focal lengths, skew and principal point) are
    divided by ``factor``; the pyramid level ``l`` of CVP-MVSNet uses
    ``factor = image_width / feature_width = 2 ** l``.

    Args:
        intrinsics (Tensor): ``[..., 3, 3]``.
        factor (float): Downsampling ratio (> 0).

    Returns:
        Tensor: ``[..., 3, 3]``, a new tensor.
    """
    if factor <= 0:
        raise ValueError(f'factor: must be > 0, got {factor}')
    scaled = intrinsics.clone()
    scaled[..., :2, :] = scaled[..., :2, :] / factor
    return scaled


def _projection_4x4(intrinsics: Tensor, extrinsics: Tensor) -> Tensor:
    """``[[K @ [R | t]], [0, 0, 0, 1]]``, ``[B, 4, 4]``."""
    proj = extrinsics.clone()
    proj[:, :3, :4] = intrinsics @ extrinsics[:, :3, :4]
    proj[:, 3] = proj.new_tensor([0.0, 0.0, 0.0, 1.0])
    return proj


def relative_projection(
        ref_intrinsics: Tensor,
        ref_extrinsics: Tensor,
        src_intrinsics: Tensor,
        src_extrinsics: Tensor,
        compute_dtype: Optional[torch.dtype] = torch.float64
) -> Tuple[Tensor, Tensor]:
    """The map from reference pixels times depth to source pixels.

    ``P_src @ inv(P_ref)`` with ``P = [[K @ [R | t]], [0, 0, 0, 1]]``: a
    reference pixel ``p = (x, y, 1)`` at depth ``d`` projects to the
    homogeneous source pixel ``rot @ p * d + trans``. Computed in
    ``compute_dtype`` and returned in the dtype of ``ref_intrinsics``.

    Args:
        ref_intrinsics (Tensor): ``[B, 3, 3]``.
        ref_extrinsics (Tensor): ``[B, 4, 4]`` world-to-camera.
        src_intrinsics (Tensor): ``[B, 3, 3]``.
        src_extrinsics (Tensor): ``[B, 4, 4]`` world-to-camera.
        compute_dtype (torch.dtype, optional): Precision of the products
            and the inverse (default float64; None: the input dtype, as the
            released CVP-MVSNet code).

    Returns:
        tuple[Tensor, Tensor]: ``rot`` ``[B, 3, 3]`` (``K_s R K_r^-1``) and
        ``trans`` ``[B, 3, 1]`` (``K_s t``, with ``(R, t)`` the reference-to-
        source camera motion).
    """
    dtype = ref_intrinsics.dtype
    work = compute_dtype or dtype
    ref = _projection_4x4(ref_intrinsics.to(work), ref_extrinsics.to(work))
    src = _projection_4x4(src_intrinsics.to(work), src_extrinsics.to(work))
    proj = src @ torch.linalg.inv(ref)
    return proj[:, :3, :3].to(dtype), proj[:, :3, 3:4].to(dtype)


def pixel_grid(height: int, width: int, device=None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Homogeneous pixel coordinates ``(x, y, 1)`` in row-major order.

    Returns:
        Tensor: ``[3, H * W]``; column ``i`` is pixel ``(i % W, i // W)``.
    """
    y, x = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing='ij')
    return torch.stack((x.reshape(-1), y.reshape(-1),
                        torch.ones(height * width, device=device,
                                   dtype=dtype)))


def homography_grid(rot: Tensor,
                    trans: Tensor,
                    depths: Tensor,
                    height: int,
                    width: int,
                    mask_behind: bool = True) -> Tensor:
    """Normalised source sampling positions of every reference pixel and
    depth hypothesis.

    Coordinates follow the module's convention (``x / ((W - 1) / 2) - 1``,
    to be sampled with ``align_corners=True``). Values are clamped to
    ``[-4, 4]`` (still outside the map), and a point on or behind the
    source camera's image plane (z <= 1e-6) gets -4, so it samples zeros,
    unless ``mask_behind`` is False.

    Args:
        rot (Tensor): ``[B, 3, 3]`` from :func:`relative_projection`.
        trans (Tensor): ``[B, 3, 1]``.
        depths (Tensor): Depth hypotheses, ``[B, D]`` (planes shared by all
            pixels) or ``[B, D, H, W]`` (per pixel).
        height (int): H of the reference map.
        width (int): W of the reference map.
        mask_behind (bool): Send points with source z <= 1e-6 outside the
            map. False divides by z as is, so a point behind the source
            camera is projected through its centre (mirrored), as the
            released CVP-MVSNet code does.

    Returns:
        Tensor: ``[B, D * H, W, 2]`` (x, y) for ``F.grid_sample``.
    """
    batch = rot.shape[0]
    num = depths.shape[1]
    xyz = pixel_grid(height, width, rot.device, rot.dtype)  # [3, HW]
    rot_xyz = (rot @ xyz).unsqueeze(2)  # [B, 3, 1, HW]
    if depths.dim() == 2:
        depth = depths.view(batch, 1, num, 1)
    elif depths.dim() == 4:
        depth = depths.reshape(batch, 1, num, height * width)
    else:
        raise ValueError('depths: expected [B, D] or [B, D, H, W], got '
                         f'{tuple(depths.shape)}')
    proj = rot_xyz * depth.to(rot.dtype) + trans.view(batch, 3, 1, 1)
    z = proj[:, 2]  # [B, D, HW]
    if mask_behind:
        valid = z > MIN_DEPTH
        z = torch.where(valid, z, torch.ones_like(z))
    xy = proj[:, :2] / z.unsqueeze(1)
    grid = torch.stack((xy[:, 0] / ((width - 1) / 2) - 1,
                        xy[:, 1] / ((height - 1) / 2) - 1), dim=-1)
    grid = grid.clamp(-OUTSIDE, OUTSIDE)
    if mask_behind:
        grid = grid.masked_fill(~valid.unsqueeze(-1), -OUTSIDE)
    return grid.view(batch, num * height, width, 2)


def warp_volume(src_features: Tensor,
                ref_intrinsics: Tensor,
                ref_extrinsics: Tensor,
                src_intrinsics: Tensor,
                src_extrinsics: Tensor,
                depths: Tensor,
                align_corners: bool = True,
                mask_behind: bool = True,
                geometry_dtype: Optional[torch.dtype] = torch.float64
                ) -> Tensor:
    """Warp a source feature map onto the reference view at every depth
    hypothesis (bilinear, zero padding).

    The geometry runs under ``no_grad``: gradients reach ``src_features``
    only, as in MVSNet and CVP-MVSNet.

    Args:
        src_features (Tensor): ``[B, C, H, W]``; the intrinsics must be
            those of this resolution (see :func:`scale_intrinsics`).
        ref_intrinsics (Tensor): ``[B, 3, 3]``.
        ref_extrinsics (Tensor): ``[B, 4, 4]``.
        src_intrinsics (Tensor): ``[B, 3, 3]``.
        src_extrinsics (Tensor): ``[B, 4, 4]``.
        depths (Tensor): ``[B, D]`` or ``[B, D, H, W]`` reference depths.
        align_corners (bool): ``True`` (correct for the integer pixel
            centres used here). ``False`` reproduces the released
            CVP-MVSNet code, which normalises as here but samples with
            ``grid_sample``'s default (see
            :class:`~mmext.models.mvs.CVPMVSNetCore`).
        mask_behind (bool): Sample zeros for points behind the source
            camera (see :func:`homography_grid`).
        geometry_dtype (torch.dtype, optional): Precision of
            :func:`relative_projection` (None: that of the intrinsics).

    Returns:
        Tensor: ``[B, C, D, H, W]``.
    """
    batch, channels, height, width = src_features.shape
    num = depths.shape[1]
    with torch.no_grad():
        rot, trans = relative_projection(ref_intrinsics, ref_extrinsics,
                                         src_intrinsics, src_extrinsics,
                                         geometry_dtype)
        grid = homography_grid(rot, trans, depths.detach(), height, width,
                               mask_behind)
    warped = F.grid_sample(src_features, grid.to(src_features.dtype),
                           mode='bilinear', padding_mode='zeros',
                           align_corners=align_corners)
    return warped.view(batch, channels, num, height, width)
