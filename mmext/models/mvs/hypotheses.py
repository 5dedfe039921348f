"""Depth hypotheses of the cost volume pyramid.

Yang et al., "Cost Volume Pyramid Based Depth Inference for Multi-View
Stereo", CVPR 2020, arXiv:1912.08329 (Sec. 3.1 and 3.3): the coarsest level
sweeps fronto-parallel planes uniformly over ``[depth_min, depth_max]``;
every finer level tests a few per-pixel residuals around the upsampled
depth, spaced by an interval that is either fixed (the released training
setting) or derived from the epipolar geometry so that neighbouring
hypotheses project about one pixel apart in a source view (the released
test setting; the paper argues with half a pixel).
"""
from typing import Optional

import torch
from torch import Tensor

from .geometry import pixel_grid, relative_projection

__all__ = [
    'uniform_hypotheses', 'residual_offsets', 'residual_hypotheses',
    'fixed_interval', 'epipolar_interval'
]


def uniform_hypotheses(depth_min: Tensor,
                       depth_max: Tensor,
                       num_planes: int = 48) -> Tensor:
    """``num_planes`` depths from ``depth_min`` to ``depth_max`` inclusive.

    Per sample, like ``torch.linspace``: spacing ``(max - min) / (D - 1)``
    and both ends exact. (The released code builds the planes with
    ``torch.range(min, max, step)``, whose float rounding gives 47 planes
    instead of 48 for DTU's 425..1065 on current PyTorch; an explicit count
    avoids that.)

    Args:
        depth_min (Tensor): ``[B]``.
        depth_max (Tensor): ``[B]``.
        num_planes (int): D >= 2.

    Returns:
        Tensor: ``[B, D]``, in the dtype of ``depth_min``.
    """
    if num_planes < 2:
        raise ValueError(f'num_planes: need at least 2, got {num_planes}')
    steps = torch.linspace(0, 1, num_planes, device=depth_min.device,
                           dtype=depth_min.dtype)
    # torch.lerp computes from the nearer end: both ends are exact.
    return torch.lerp(depth_min[:, None], depth_max[:, None].to(
        depth_min.dtype), steps[None])


def residual_offsets(num: int) -> range:
    """The integer multiples of the interval tested at a refinement level:
    ``-(num // 2) .. num - num // 2 - 1`` (``-4 .. 3`` for 8)."""
    if num < 1:
        raise ValueError(f'num: need at least 1 hypothesis, got {num}')
    return range(-(num // 2), num - num // 2)


def residual_hypotheses(depth: Tensor, interval: Tensor,
                        num: int = 8) -> Tensor:
    """Per-pixel hypotheses ``depth + k * interval`` around a depth map.

    Args:
        depth (Tensor): ``[B, H, W]`` (e.g. the upsampled coarser estimate).
        interval (Tensor): ``[B]`` spacing per sample.
        num (int): Number of hypotheses; ``k`` runs over
            :func:`residual_offsets` (``-4 .. 3`` for 8).

    Returns:
        Tensor: ``[B, num, H, W]`` in the dtype of ``depth``, computed in the
        wider of the two dtypes (a float64 interval is not rounded before
        the sum). Gradients flow to ``depth`` and ``interval``.
    """
    work = torch.promote_types(depth.dtype, interval.dtype)
    offsets = torch.tensor(list(residual_offsets(num)), device=depth.device,
                           dtype=work)
    step = offsets[None, :] * interval.to(work)[:, None]  # [B, num]
    hypotheses = depth.to(work).unsqueeze(1) + step[:, :, None, None]
    return hypotheses.to(depth.dtype)


def fixed_interval(value: float,
                   batch_size: int,
                   device=None,
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """``value`` for every sample, ``[B]`` (the released training setting
    uses 6.8085 on DTU)."""
    if not value > 0:
        raise ValueError(f'value: the interval must be > 0, got {value}')
    return torch.full((batch_size, ), float(value), device=device,
                      dtype=dtype)


def epipolar_interval(depth: Tensor,
                      ref_intrinsics: Tensor,
                      ref_extrinsics: Tensor,
                      src_intrinsics: Tensor,
                      src_extrinsics: Tensor,
                      pixels: float = 1.0,
                      valid: Optional[Tensor] = None) -> Tensor:
    """Mean depth change that moves a reference pixel's projection
    ``pixels`` pixels along its epipolar line in a source view.

    The released test-time rule of CVP-MVSNet, in closed form. A
    reference pixel ``p`` at depth ``d`` projects to ``h(d) = d a + b`` with
    ``a = rot @ p`` and ``b = trans`` (:func:`relative_projection`); its
    image is ``pi(d) = h_xy / h_z``, and for any other depth ``d'``::

        pi(d') - pi(d) = (d' - d) w / (h_z(d) h_z(d')),
        w = a_xy b_z - b_xy a_z            (the epipolar direction)

    Stepping ``pixels`` pixels along the line in the direction of
    increasing source x (the released code's choice: ``atan`` of the
    line's slope), i.e. ``s = sign(w_x)`` (+1 where w_x is 0), gives the
    exact depth step::

        delta = pixels * h_z^2 / (s |w| - pixels * h_z a_z)

    and the result is the mean of ``|delta|`` over the pixels. Computed in
    float64. The released code instead solves a 2x2 system per pixel
    (rows y and z of a 3-vector equation) that is singular when the
    epipolar lines are horizontal and the two cameras share y and z rows,
    e.g. an exactly rectified horizontal pair, where ``torch.inverse``
    raises; the closed form has no such case. Pixels where no finite step
    exists are left out of the mean: the epipole (``w = 0``) and steps that
    would need a point at infinity (zero denominator).

    On a rectified pair (focal ``f``, baseline ``b``, source camera at
    ``+b`` along x) this is ``d^2 / (f b - d)``, about ``d^2 / (f b)``, the
    depth change of one pixel of disparity. The interval halves when the
    resolution doubles (``w`` scales with the intrinsics).

    Args:
        depth (Tensor): ``[B, H, W]`` reference depth at the resolution of
            the intrinsics.
        ref_intrinsics (Tensor): ``[B, 3, 3]``.
        ref_extrinsics (Tensor): ``[B, 4, 4]`` world-to-camera.
        src_intrinsics (Tensor): ``[B, 3, 3]`` (the released code uses the
            first source view).
        src_extrinsics (Tensor): ``[B, 4, 4]``.
        pixels (float): Step along the epipolar line, in pixels.
        valid (Tensor, optional): ``[B, H, W]`` bool; only these pixels
            enter the mean (default: all).

    Returns:
        Tensor: ``[B]`` in the dtype of ``depth`` (pass a float64 depth for
        a float64 interval), without gradient.

    Raises:
        ValueError: A sample has no pixel with a finite step (e.g. the two
            camera centres coincide, so no depth moves the projection).
    """
    if not pixels > 0:
        raise ValueError(f'pixels: must be > 0, got {pixels}')
    batch, height, width = depth.shape
    with torch.no_grad():
        rot, trans = relative_projection(ref_intrinsics.double(),
                                         ref_extrinsics.double(),
                                         src_intrinsics.double(),
                                         src_extrinsics.double(),
                                         torch.float64)
        xyz = pixel_grid(height, width, depth.device, torch.float64)
        a = rot @ xyz  # [B, 3, HW]
        b = trans  # [B, 3, 1]
        d = depth.detach().double().reshape(batch, 1, -1)  # [B, 1, HW]
        h_z = d[:, 0] * a[:, 2] + b[:, 2]  # [B, HW]
        w = a[:, :2] * b[:, 2:3] - b[:, :2] * a[:, 2:3]  # [B, 2, HW]
        norm = torch.linalg.vector_norm(w, dim=1)  # [B, HW]
        sign = torch.where(w[:, 0] >= 0, 1.0, -1.0).to(w.dtype)
        delta = pixels * h_z**2 / (sign * norm - pixels * h_z * a[:, 2])
        delta = delta.abs()
        keep = torch.isfinite(delta) & (norm > 0)
        if valid is not None:
            keep &= valid.reshape(batch, -1)
        count = keep.sum(dim=1)
        if bool((count == 0).any()):
            bad = torch.nonzero(count == 0).flatten().tolist()
            raise ValueError(
                f'epipolar_interval: samples {bad} have no pixel whose '
                'projection moves along an epipolar line (do the reference '
                'and source camera centres coincide?); use a fixed '
                'interval or another source view')
        mean = torch.where(keep, delta, 0).sum(dim=1) / count
    return mean.to(depth.dtype)
