"""``mmext.UnsupervisedMVSLoss``: the stage-1 loss of self-supervised
CVP-MVSNet (Yang, Alvarez, Liu, CVPR 2021, arXiv:2104.02972, Sec. 3.1).

The paper trains its initial model "with image reconstruction loss as
supervision" and did not release that stage. mmext uses the loss of the
unsupervised MVS line it compares with (Khot et al., arXiv:1905.02706,
public repository tejaskhot/unsup_mvs), an assumption with every weight a
config field: ``w_rec * L_rec + w_ssim * L_ssim + w_smooth * L_smooth`` with
Khot et al.'s 12, 6 and 0.18, at every pyramid level of the estimate.
"""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import is_int_at_least
from .geometry import scale_intrinsics
from .photometric import (edge_aware_smoothness, masked_ssim,
                          photometric_errors, topk_reconstruction,
                          warp_by_depth)

__all__ = ['UnsupervisedMVSLoss']


def _non_negative(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not value >= 0:
        raise ValueError(f'UnsupervisedMVSLoss: {name}={value!r} must be a '
                         'number >= 0')
    return float(value)


@MODELS.register_module()
class UnsupervisedMVSLoss(nn.Module):
    """Image-reconstruction loss of a depth pyramid, no depth label.

    At level ``l`` (depth ``[B, H / 2^l, W / 2^l]``) the images are
    downsampled ``l`` times by 0.5 (bilinear, as the feature pyramid) and
    the intrinsics divided by ``2^l``; then, with
    :mod:`mmext.models.mvs.photometric`:

    * ``L_rec``: every source image is warped onto the reference through the
      depth; per pixel the ``topk`` smallest errors
      (:func:`~mmext.models.mvs.photometric.photometric_errors`: colour and
      image-gradient L1, invalid projections excluded) are averaged;
    * ``L_ssim``: ``(1 - SSIM) / 2`` of the first ``ssim_views`` warped
      views on their valid pixels, averaged over those views;
    * ``L_smooth``: edge-aware first-order smoothness of the depth.

    Each term is summed over levels and returned weighted:
    ``dict(loss_rec, loss_ssim, loss_smooth)``.

    Args:
        w_rec (float): Weight of ``L_rec`` (Khot et al.: 12).
        w_ssim (float): Weight of ``L_ssim`` (6).
        w_smooth (float): Weight of ``L_smooth`` (0.18; JDACS-MS, with
            CVP-MVSNet as its backbone, uses 0.05).
        topk (int): Source views kept per pixel (3).
        ssim_views (int): Warped views in ``L_ssim`` (2).
        gradient_weight (float): Share of the image-gradient difference in
            the per-pixel error (0.5).
        edge_weight (float): Edge sensitivity of the smoothness (1).
        ssim_window (int): SSIM window size (3).
    """

    def __init__(self,
                 w_rec: float = 12.0,
                 w_ssim: float = 6.0,
                 w_smooth: float = 0.18,
                 topk: int = 3,
                 ssim_views: int = 2,
                 gradient_weight: float = 0.5,
                 edge_weight: float = 1.0,
                 ssim_window: int = 3) -> None:
        super().__init__()
        self.w_rec = _non_negative(w_rec, 'w_rec')
        self.w_ssim = _non_negative(w_ssim, 'w_ssim')
        self.w_smooth = _non_negative(w_smooth, 'w_smooth')
        self.gradient_weight = _non_negative(gradient_weight,
                                             'gradient_weight')
        if self.gradient_weight > 1:
            raise ValueError('UnsupervisedMVSLoss: gradient_weight='
                             f'{gradient_weight!r} must lie in [0, 1]')
        self.edge_weight = _non_negative(edge_weight, 'edge_weight')
        for name, value in (('topk', topk), ('ssim_views', ssim_views)):
            if not is_int_at_least(value, 1):
                raise ValueError(f'UnsupervisedMVSLoss: {name}={value!r} '
                                 'must be an integer >= 1')
        if not is_int_at_least(ssim_window, 1) or ssim_window % 2 == 0:
            raise ValueError(f'UnsupervisedMVSLoss: ssim_window='
                             f'{ssim_window!r} must be an odd integer >= 1')
        self.topk = topk
        self.ssim_views = ssim_views
        self.ssim_window = ssim_window

    def level_terms(self, depth: Tensor, imgs: Tensor, intrinsics: Tensor,
                    extrinsics: Tensor) -> Dict[str, Tensor]:
        """Unweighted ``rec``, ``ssim`` and ``smooth`` of one level.

        Args:
            depth (Tensor): ``[B, h, w]``.
            imgs (Tensor): ``[B, V, 3, h, w]``, view 0 the reference.
            intrinsics (Tensor): ``[B, V, 3, 3]`` at ``h x w``.
            extrinsics (Tensor): ``[B, V, 4, 4]``.
        """
        ref = imgs[:, 0]
        warped, valid = [], []
        for view in range(1, imgs.shape[1]):
            image, mask = warp_by_depth(imgs[:, view], depth,
                                        intrinsics[:, 0], extrinsics[:, 0],
                                        intrinsics[:, view],
                                        extrinsics[:, view])
            warped.append(image)
            valid.append(mask)
        warped_views = torch.stack(warped, dim=1)
        valid_views = torch.stack(valid, dim=1)
        errors = photometric_errors(ref, warped_views, valid_views,
                                    self.gradient_weight)
        num_ssim = min(self.ssim_views, len(warped))
        ssim = sum(
            masked_ssim(ref, warped[i], valid[i], self.ssim_window)
            for i in range(num_ssim)) / num_ssim
        return dict(rec=topk_reconstruction(errors, self.topk),
                    ssim=ssim,
                    smooth=edge_aware_smoothness(depth, ref,
                                                 self.edge_weight))

    def forward(self, depths: Sequence[Tensor], imgs: Tensor,
                intrinsics: Tensor, extrinsics: Tensor) -> Dict[str, Tensor]:
        """The weighted terms, summed over levels.

        Args:
            depths (Sequence[Tensor]): ``[B, H / 2^l, W / 2^l]`` per level,
                finest first (the model's ``depths``).
            imgs (Tensor): ``[B, V, 3, H, W]`` in [0, 1], view 0 the
                reference.
            intrinsics (Tensor): ``[B, V, 3, 3]`` at ``H x W``.
            extrinsics (Tensor): ``[B, V, 4, 4]`` world-to-camera.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_ssim``, ``loss_smooth``.
        """
        if imgs.dim() != 5 or imgs.shape[1] < 2:
            raise ValueError('imgs: expected [B, V >= 2, 3, H, W], got '
                             f'{tuple(imgs.shape)}')
        batch, views, channels, height, width = imgs.shape
        totals = dict(rec=0., ssim=0., smooth=0.)
        images = imgs
        for level, depth in enumerate(depths):
            if level:
                flat = F.interpolate(images.flatten(0, 1), scale_factor=0.5,
                                     mode='bilinear', align_corners=False)
                images = flat.view(batch, views, channels, *flat.shape[-2:])
            if tuple(depth.shape) != (batch, ) + tuple(images.shape[-2:]):
                raise ValueError(
                    f'depths: level {level} is {list(depth.shape)}, expected '
                    f'{[batch, *images.shape[-2:]]} (the images halved '
                    f'{level} time(s) from {height}x{width}); give the '
                    'levels finest first')
            terms = self.level_terms(depth, images,
                                     scale_intrinsics(intrinsics, 2**level),
                                     extrinsics)
            for name, value in terms.items():
                totals[name] = totals[name] + value
        return dict(loss_rec=self.w_rec * totals['rec'],
                    loss_ssim=self.w_ssim * totals['ssim'],
                    loss_smooth=self.w_smooth * totals['smooth'])
