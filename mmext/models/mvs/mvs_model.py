"""The registered CVP-MVSNet model: MMEngine's contract around
:class:`~mmext.models.mvs.CVPMVSNetCore`.

Yang et al., "Cost Volume Pyramid Based Depth Inference for Multi-View
Stereo", CVPR 2020, arXiv:1912.08329; trained with ground truth or, in the
self-supervised recipe (Yang, Alvarez, Liu, CVPR 2021, arXiv:2104.02972),
with pseudo depth.
"""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.model import BaseModel
from torch import Tensor

from mmext.registry import MODELS
from .cvp_mvsnet import CVPMVSNetCore
from .losses import multi_level_depth_loss

__all__ = ['CVPMVSNet']


@MODELS.register_module()
class CVPMVSNet(BaseModel):
    """CVP-MVSNet for MMEngine's runners.

    ``forward(imgs, intrinsics, extrinsics, depth_min, depth_max,
    depths=None, data_samples=None, mode='tensor')`` takes the keyword
    arguments :class:`mmext.MVSDataPreprocessor` returns:

    * ``'tensor'``: the core's ``dict(depths=[finest first], confidence)``.
    * ``'loss'``: ``dict(loss_depth=...)``, ``loss_weight`` times the sum
      over levels of the masked smooth L1
      (:func:`~mmext.models.mvs.multi_level_depth_loss`, pixels whose
      ground truth exceeds the sample's ``depth_min``). ``depths`` is the
      per-level ground truth, finest first; levels beyond ``num_levels``
      are ignored. With ``unsupervised_loss`` set, ``'loss'`` returns that
      module's terms instead and needs no ``depths`` (the stage-1 training
      of the self-supervised recipe).
    * ``'predict'``: one dict per sample with ``depth`` and ``confidence``
      ``[H, W]``, ``gt_depth`` (finest level, when ``depths`` is given),
      ``depth_min``, ``depth_max`` (floats) and the keys of the sample's
      ``data_samples`` dict (e.g. ``scan``, ``view``, ``light``).

    Args:
        num_levels (int): Pyramid levels.
        num_initial_planes (int): Coarsest-level planes.
        num_residual_planes (int): Hypotheses per pixel at finer levels.
        residual_interval (float or str): Fixed interval, or
            ``'epipolar'`` (see :class:`~mmext.models.mvs.CVPMVSNetCore`).
        interval_pixels (float): Pixels per epipolar step.
        reference_quirks (bool): Reproduce the released code (for
            converted checkpoints, ``tools/model_converters/
            cvpmvsnet2mmext.py``).
        norm_eval_stats (str): BatchNorm statistics of the cost
            regulariser in eval mode: ``'running'`` (released) or
            ``'volume'``, each cost volume's own (see
            :class:`~mmext.models.mvs.VolumeBatchNorm3d`).
        loss_weight (float): Weight of ``loss_depth``.
        unsupervised_loss (dict, optional): A loss config, e.g.
            ``dict(type='mmext.UnsupervisedMVSLoss')``, called as
            ``loss(depths, imgs, intrinsics, extrinsics)``; replaces the
            supervised loss.
        data_preprocessor (dict, optional): Default
            ``dict(type='mmext.MVSDataPreprocessor')``.
        init_cfg (dict, optional): MMEngine initialisation config
            (default: PyTorch's initialisation, as the released code).
    """

    def __init__(self,
                 num_levels: int = 2,
                 num_initial_planes: int = 48,
                 num_residual_planes: int = 8,
                 residual_interval: Union[float, str] = 6.8085,
                 interval_pixels: float = 1.0,
                 reference_quirks: bool = False,
                 norm_eval_stats: str = 'running',
                 loss_weight: float = 1.0,
                 unsupervised_loss: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmext.MVSDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not loss_weight >= 0:
            raise ValueError(f'model.loss_weight: must be >= 0, got '
                             f'{loss_weight!r}')
        self.loss_weight = float(loss_weight)
        self.unsupervised_loss = (None if unsupervised_loss is None else
                                  MODELS.build(unsupervised_loss))
        self.core = CVPMVSNetCore(
            num_levels=num_levels,
            num_initial_planes=num_initial_planes,
            num_residual_planes=num_residual_planes,
            residual_interval=residual_interval,
            interval_pixels=interval_pixels,
            reference_quirks=reference_quirks,
            norm_eval_stats=norm_eval_stats)

    def loss(self, outputs: dict, depths: Optional[Sequence[Tensor]],
             depth_min: Tensor) -> Dict[str, Tensor]:
        """``dict(loss_depth)`` of the core's ``outputs`` against the
        per-level ground truth ``depths`` (finest first)."""
        num = len(outputs['depths'])
        if depths is None or len(depths) < num:
            got = 'none' if depths is None else f'{len(depths)} level(s)'
            raise ValueError(
                f"depths: mode='loss' needs ground truth for each of the "
                f'{num} predicted levels (finest first), got {got}; have '
                'the dataset give that many levels or lower num_levels')
        loss = multi_level_depth_loss(outputs['depths'], list(depths[:num]),
                                      depth_min)
        return dict(loss_depth=self.loss_weight * loss)

    @staticmethod
    def predict(outputs: dict, depth_min: Tensor, depth_max: Tensor,
                depths: Optional[Sequence[Tensor]] = None,
                data_samples: Optional[List[dict]] = None) -> List[dict]:
        """Per-sample result dicts (see the class docstring)."""
        results = []
        estimate = outputs['depths'][0].detach()
        confidence = outputs['confidence'].detach()
        for i in range(estimate.shape[0]):
            result = dict(data_samples[i]) if data_samples else {}
            result.update(depth=estimate[i], confidence=confidence[i],
                          depth_min=float(depth_min[i]),
                          depth_max=float(depth_max[i]))
            if depths is not None and len(depths):
                result['gt_depth'] = depths[0][i]
            results.append(result)
        return results

    def forward(self,
                imgs: Tensor,
                intrinsics: Tensor,
                extrinsics: Tensor,
                depth_min: Tensor,
                depth_max: Tensor,
                depths: Optional[Sequence[Tensor]] = None,
                data_samples: Optional[List[dict]] = None,
                mode: str = 'tensor'):
        """MMEngine's entry point (see the class docstring for the modes).

        Args:
            imgs (Tensor): ``[B, V, 3, H, W]`` in [0, 1], view 0 the
                reference.
            intrinsics (Tensor): ``[B, V, 3, 3]``.
            extrinsics (Tensor): ``[B, V, 4, 4]`` world-to-camera.
            depth_min (Tensor): ``[B]``.
            depth_max (Tensor): ``[B]``.
            depths (list[Tensor], optional): Ground truth ``[B, H_l, W_l]``
                per level, finest first.
            data_samples (list[dict], optional): Per-sample metainfo.
            mode (str): ``'tensor'``, ``'loss'`` or ``'predict'``.
        """
        if mode not in ('tensor', 'loss', 'predict'):
            raise RuntimeError(f"CVPMVSNet: invalid mode {mode!r}; use "
                               "'loss', 'predict' or 'tensor'")
        outputs = self.core(imgs, intrinsics, extrinsics, depth_min,
                            depth_max)
        if mode == 'loss':
            if self.unsupervised_loss is not None:
                return self.unsupervised_loss(outputs['depths'], imgs,
                                              intrinsics, extrinsics)
            return self.loss(outputs, depths, depth_min)
        if mode == 'predict':
            return self.predict(outputs, depth_min, depth_max, depths,
                                data_samples)
        return outputs
