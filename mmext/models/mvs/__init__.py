"""Multi-view stereo: CVP-MVSNet (Yang et al., CVPR 2020, arXiv:1912.08329)
and its self-supervised training (Yang, Alvarez, Liu, CVPR 2021,
arXiv:2104.02972).

Plain PyTorch parts (geometry, hypotheses, cost volume, networks, loss) and
the registered ``mmext.CVPMVSNet`` / ``mmext.MVSDataPreprocessor`` /
``mmext.UnsupervisedMVSLoss``.
"""
from .convert import convert_reference_state_dict
from .cost_regularization import (ConvBnReLU3d, CostRegularization3D,
                                  DeconvBnReLU3d, VolumeBatchNorm3d)
from .cost_volume import variance_volume
from .cvp_mvsnet import CVPMVSNetCore
from .data_preprocessor import MVSDataPreprocessor
from .depth_regression import photometric_confidence, soft_argmin
from .feature_pyramid import FeaturePyramid
from .geometry import (homography_grid, pixel_grid, relative_projection,
                       scale_intrinsics, warp_volume)
from .hypotheses import (epipolar_interval, fixed_interval,
                         residual_hypotheses, residual_offsets,
                         uniform_hypotheses)
from .losses import multi_level_depth_loss
from .mvs_model import CVPMVSNet
from .photometric import (edge_aware_smoothness, masked_ssim,
                          photometric_errors, topk_reconstruction,
                          warp_by_depth)
from .unsupervised_loss import UnsupervisedMVSLoss

__all__ = [
    'CVPMVSNet', 'MVSDataPreprocessor', 'CVPMVSNetCore', 'FeaturePyramid',
    'CostRegularization3D', 'ConvBnReLU3d', 'DeconvBnReLU3d',
    'VolumeBatchNorm3d',
    'scale_intrinsics', 'relative_projection', 'pixel_grid',
    'homography_grid', 'warp_volume', 'uniform_hypotheses',
    'residual_offsets', 'residual_hypotheses', 'fixed_interval',
    'epipolar_interval', 'variance_volume', 'soft_argmin',
    'photometric_confidence', 'multi_level_depth_loss',
    'convert_reference_state_dict', 'UnsupervisedMVSLoss', 'warp_by_depth',
    'photometric_errors', 'topk_reconstruction', 'masked_ssim',
    'edge_aware_smoothness'
]
