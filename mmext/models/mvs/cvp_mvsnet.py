"""CVP-MVSNet: coarse-to-fine depth inference on a cost volume pyramid.

Yang, Mao, Alvarez, Liu, "Cost Volume Pyramid Based Depth Inference for
Multi-View Stereo", CVPR 2020, arXiv:1912.08329. The same network is the
model of the self-supervised follow-up (Yang, Alvarez, Liu,
"Self-supervised Learning of Depth Inference for Multi-view Stereo", CVPR
2021, arXiv:2104.02972), which changes only how it is trained.

Written from the papers; facts of the released code (public repository
JiayuYANG/CVP-MVSNet) are stated where they matter for converted weights.
"""
import numbers
from typing import Dict, Iterator, List, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cost_regularization import CostRegularization3D, check_eval_stats
from .cost_volume import variance_volume
from .depth_regression import photometric_confidence, soft_argmin
from .feature_pyramid import FeaturePyramid
from .geometry import scale_intrinsics, warp_volume
from .hypotheses import (epipolar_interval, fixed_interval,
                         residual_hypotheses, uniform_hypotheses)

__all__ = ['CVPMVSNetCore']

EPIPOLAR = 'epipolar'


class CVPMVSNetCore(nn.Module):
    """The CVP-MVSNet network, plain PyTorch.

    1. A :class:`FeaturePyramid` gives 16-channel features of every view at
       ``num_levels`` resolutions (level ``l``: ``H / 2^l x W / 2^l``), with
       intrinsics scaled by ``2^l``.
    2. Coarsest level: ``num_initial_planes`` fronto-parallel planes
       uniformly over ``[depth_min, depth_max]``; every source view's
       features are warped onto the reference view at each plane; the
       variance over views is the cost volume; the 3-D regulariser gives
       logits, softmax over depth the probabilities, and their expectation
       the depth.
    3. Each finer level: the depth is upsampled x2 (bicubic,
       ``align_corners=False``), ``num_residual_planes`` per-pixel
       hypotheses ``depth + k * interval`` (``k = -4 .. 3`` for 8) form a
       new cost volume, and the **same** regulariser refines the depth.
       The interval is fixed (a number; the released training value on DTU
       is 6.8085) or ``'epipolar'``: the mean depth change that moves a
       pixel ``interval_pixels`` pixels along its epipolar line in the
       first source view at that level (the released test setting, see
       :func:`~mmext.models.mvs.epipolar_interval`).
    4. The confidence is the finest level's probability mass in the
       4-hypothesis window around the estimate.

    View 0 is the reference; views 1.. are sources. Gradients flow from a
    level's depth through the upsampled depth into the next level's
    hypotheses and soft-argmin (as in the released training mode); the
    warping geometry and the epipolar interval carry none.

    ``reference_quirks=True`` reproduces four facts of the released code
    (JiayuYANG/CVP-MVSNet, ``models/net.py`` and ``models/modules.py``) so
    that converted checkpoints give its outputs:

    * (a) The variance starts its running sum from the reference volume
      after squaring it in place (``volume_sq_sum = ref_volume.pow_(2)``
      aliases ``volume_sum``), so at every level the mean term uses
      ``ref^2``: ``(ref^2 + sum w^2) / N - ((ref^2 + sum w) / N)^2``.
    * (b) Sampling coordinates are normalised with ``(W - 1) / 2`` (integer
      pixel centres) but ``grid_sample`` is called with its default,
      ``align_corners=False`` since PyTorch 1.3 (the code pins 1.4), so
      every warp samples up to half a pixel off the projected point.
    * (c) The coarsest planes of every sample span the first sample's
      depth range (the code assumes one range per batch).
    * (d) A hypothesis behind a source camera (e.g. a negative depth, which
      residual hypotheses around a small depth can reach) is projected
      through the camera centre and sampled like any other point; mmext
      otherwise samples zeros there.

    Under the same switch the relative camera projection is computed in the
    input precision rather than float64, and the feature CNN runs one view
    at a time, as released, so that results agree to the last bit on the
    same machine.

    Both the released code and mmext build the image pyramid with bilinear
    ``scale_factor=0.5`` and upsample depth with bicubic ``scale_factor=2``,
    both with ``align_corners=False``. The released code builds the
    coarsest planes with ``torch.range``, which gives 47 instead of 48 on
    current PyTorch for DTU's range; mmext always uses the requested count.

    Args:
        num_levels (int): Pyramid levels (the released code's ``nscale``:
            2 for 128x160 training, 5 for 1184x1600 testing on DTU).
        num_initial_planes (int): Planes at the coarsest level (even).
        num_residual_planes (int): Hypotheses per pixel at finer levels
            (even).
        residual_interval (float or str): A fixed interval (> 0), or
            ``'epipolar'``.
        interval_pixels (float): Epipolar step in pixels for
            ``'epipolar'`` (released code: 1; the paper argues with 0.5).
        reference_quirks (bool): Reproduce the released code (see above);
            for checkpoints converted from it.
        norm_eval_stats (str): BatchNorm statistics of the shared
            regulariser in eval mode: ``'running'`` (PyTorch's default, as
            released) or ``'volume'``, each cost volume normalised by its
            own statistics (see
            :class:`~mmext.models.mvs.VolumeBatchNorm3d`).
    """

    def __init__(self,
                 num_levels: int = 2,
                 num_initial_planes: int = 48,
                 num_residual_planes: int = 8,
                 residual_interval: Union[float, str] = 6.8085,
                 interval_pixels: float = 1.0,
                 reference_quirks: bool = False,
                 norm_eval_stats: str = 'running') -> None:
        super().__init__()
        if not isinstance(num_levels, int) or num_levels < 1:
            raise ValueError(f'num_levels: need an integer >= 1, got '
                             f'{num_levels!r}')
        for name, value in (('num_initial_planes', num_initial_planes),
                            ('num_residual_planes', num_residual_planes)):
            if not isinstance(value, int) or value < 2 or value % 2:
                raise ValueError(
                    f'{name}: need an even integer >= 2 (the regulariser '
                    f'halves and doubles the depth dimension), got '
                    f'{value!r}')
        if isinstance(residual_interval, str):
            if residual_interval != EPIPOLAR:
                raise ValueError(
                    f"residual_interval: a number > 0 or '{EPIPOLAR}', got "
                    f'{residual_interval!r}')
        elif not (isinstance(residual_interval, numbers.Real)
                  and residual_interval > 0):
            raise ValueError(
                f"residual_interval: a number > 0 or '{EPIPOLAR}', got "
                f'{residual_interval!r}')
        if not interval_pixels > 0:
            raise ValueError(
                f'interval_pixels: must be > 0, got {interval_pixels!r}')
        self.num_levels = num_levels
        self.num_initial_planes = num_initial_planes
        self.num_residual_planes = num_residual_planes
        self.residual_interval = residual_interval
        self.interval_pixels = float(interval_pixels)
        self.reference_quirks = bool(reference_quirks)
        self.feature_pyramid = FeaturePyramid()
        check_eval_stats(norm_eval_stats, 'norm_eval_stats')
        self.cost_regularization = CostRegularization3D(
            in_channels=self.feature_pyramid.out_channels,
            eval_stats=norm_eval_stats)

    # ------------------------------------------------------------ checks
    def check_inputs(self, imgs: Tensor, intrinsics: Tensor,
                     extrinsics: Tensor, depth_min: Tensor,
                     depth_max: Tensor) -> None:
        """Raise ``ValueError`` naming the field and the fix for inputs the
        network cannot take."""
        if imgs.dim() != 5 or imgs.shape[2] != 3:
            raise ValueError('imgs: expected [B, V, 3, H, W] (view 0 the '
                             f'reference), got {tuple(imgs.shape)}')
        batch, views, _, height, width = imgs.shape
        if views < 2:
            raise ValueError(f'imgs: need a reference and at least one '
                             f'source view (V >= 2), got V={views}')
        for name, value, tail in (('intrinsics', intrinsics, (3, 3)),
                                  ('extrinsics', extrinsics, (4, 4))):
            if tuple(value.shape) != (batch, views) + tail:
                raise ValueError(
                    f'{name}: expected {[batch, views, *tail]} (one matrix '
                    f'per view of imgs {tuple(imgs.shape)}), got '
                    f'{list(value.shape)}')
        for name, value in (('depth_min', depth_min),
                            ('depth_max', depth_max)):
            if tuple(value.shape) != (batch, ):
                raise ValueError(f'{name}: expected [B] = [{batch}], got '
                                 f'{list(value.shape)}')
        factor = 2**(self.num_levels - 1)
        if height % factor or width % factor:
            raise ValueError(
                f'imgs: height and width ({height}x{width}) must be '
                f'divisible by 2**(num_levels - 1) = {factor} for '
                f'num_levels={self.num_levels}; crop the images (and shift '
                'the principal point) or use fewer levels')
        if (height // factor) % 2 or (width // factor) % 2:
            raise ValueError(
                f'imgs: the coarsest level ({height // factor}x'
                f'{width // factor}) must have even height and width for the '
                "regulariser's stride-2 stage, i.e. height and width "
                f'divisible by 2**num_levels = {2 * factor} for '
                f'num_levels={self.num_levels}; crop the images')
        bad = torch.nonzero(~(depth_min < depth_max)).flatten().tolist()
        if bad:
            raise ValueError(
                'depth_min/depth_max: need depth_min < depth_max for every '
                f'sample; samples {bad} have depth_min '
                f'{depth_min[bad].tolist()} and depth_max '
                f'{depth_max[bad].tolist()}')

    # ------------------------------------------------------------ levels
    def _warped(self, src_features: Tensor, intrinsics: Tensor,
                extrinsics: Tensor, hypotheses: Tensor) -> Iterator[Tensor]:
        """Warped volumes of the source views, one at a time."""
        quirks = self.reference_quirks
        for view in range(1, src_features.shape[1]):
            yield warp_volume(src_features[:, view], intrinsics[:, 0],
                              extrinsics[:, 0], intrinsics[:, view],
                              extrinsics[:, view], hypotheses,
                              align_corners=not quirks,
                              mask_behind=not quirks,
                              geometry_dtype=None if quirks else torch.float64)

    def estimate_level(self, features: Tensor, intrinsics: Tensor,
                       extrinsics: Tensor,
                       hypotheses: Tensor) -> Tuple[Tensor, Tensor]:
        """One level: cost volume, regularisation, softmax, soft-argmin.

        Args:
            features (Tensor): ``[B, V, C, h, w]``.
            intrinsics (Tensor): ``[B, V, 3, 3]`` at this level.
            extrinsics (Tensor): ``[B, V, 4, 4]``.
            hypotheses (Tensor): ``[B, D]`` or ``[B, D, h, w]``.

        Returns:
            tuple[Tensor, Tensor]: Probabilities ``[B, D, h, w]`` and depth
            ``[B, h, w]``.
        """
        # the warped volumes are made here one at a time, for the variance
        # alone: it may square them in place (without autograd)
        cost = variance_volume(
            features[:, 0],
            self._warped(features, intrinsics, extrinsics, hypotheses),
            reference_quirk=self.reference_quirks, overwrite_warped=True)
        prob = F.softmax(self.cost_regularization(cost), dim=1)
        return prob, soft_argmin(prob, hypotheses)

    def interval(self, depth: Tensor, intrinsics: Tensor,
                 extrinsics: Tensor) -> Tensor:
        """Residual interval ``[B]`` at one level (``intrinsics`` of that
        level, ``depth`` ``[B, h, w]``); float64 for ``'epipolar'``."""
        if self.residual_interval == EPIPOLAR:
            # float64, so that the hypotheses round once (as released)
            return epipolar_interval(depth.double(), intrinsics[:, 0],
                                     extrinsics[:, 0], intrinsics[:, 1],
                                     extrinsics[:, 1],
                                     pixels=self.interval_pixels)
        return fixed_interval(self.residual_interval, depth.shape[0],
                              depth.device, depth.dtype)

    def features(self, imgs: Tensor) -> List[Tensor]:
        """Feature pyramids of all views: ``[B, V, 3, H, W]`` -> list of
        ``[B, V, C, H / 2^l, W / 2^l]``, finest first.

        All views go through the CNN as one batch; with
        ``reference_quirks`` one view at a time, as released (batched
        convolutions can round differently in the last bit).
        """
        batch, views = imgs.shape[:2]
        if self.reference_quirks:
            per_view = [
                self.feature_pyramid(imgs[:, v], self.num_levels)
                for v in range(views)
            ]
            return [torch.stack(level, dim=1) for level in zip(*per_view)]
        pyramid = self.feature_pyramid(imgs.flatten(0, 1), self.num_levels)
        return [f.view(batch, views, *f.shape[1:]) for f in pyramid]

    def forward(self, imgs: Tensor, intrinsics: Tensor, extrinsics: Tensor,
                depth_min: Tensor,
                depth_max: Tensor) -> Dict[str, Union[Tensor, List[Tensor]]]:
        """Estimate the reference view's depth.

        Args:
            imgs (Tensor): ``[B, V, 3, H, W]``, view 0 the reference;
                H and W divisible by ``2 ** num_levels``.
            intrinsics (Tensor): ``[B, V, 3, 3]`` at full resolution.
            extrinsics (Tensor): ``[B, V, 4, 4]`` world-to-camera.
            depth_min (Tensor): ``[B]``.
            depth_max (Tensor): ``[B]``, greater than ``depth_min``.

        Returns:
            dict: ``depths``, a list of ``[B, H / 2^l, W / 2^l]`` for
            ``l = 0 .. num_levels - 1`` (finest first), and ``confidence``
            ``[B, H, W]`` (no gradient).
        """
        self.check_inputs(imgs, intrinsics, extrinsics, depth_min, depth_max)
        features = self.features(imgs)

        def level_intrinsics(level: int) -> Tensor:
            return scale_intrinsics(intrinsics, 2**level)

        coarsest = self.num_levels - 1
        low, high = depth_min.to(imgs.dtype), depth_max.to(imgs.dtype)
        if self.reference_quirks:  # (c): the first sample's range for all
            batch = imgs.shape[0]
            low, high = low[:1].expand(batch), high[:1].expand(batch)
        hypotheses = uniform_hypotheses(low, high, self.num_initial_planes)
        prob, depth = self.estimate_level(features[coarsest],
                                          level_intrinsics(coarsest),
                                          extrinsics, hypotheses)
        depths = [depth]
        for level in range(coarsest - 1, -1, -1):
            depth = F.interpolate(depth.unsqueeze(1), scale_factor=2,
                                  mode='bicubic',
                                  align_corners=False).squeeze(1)
            k_level = level_intrinsics(level)
            interval = self.interval(depth, k_level, extrinsics)
            hypotheses = residual_hypotheses(depth, interval,
                                             self.num_residual_planes)
            prob, depth = self.estimate_level(features[level], k_level,
                                              extrinsics, hypotheses)
            depths.append(depth)
        with torch.no_grad():
            confidence = photometric_confidence(prob)
        depths.reverse()
        return dict(depths=depths, confidence=confidence)
