"""mmext datasets and data transforms (registered in the ``mmext`` scope).

Classification data is mmpretrain's (``CustomDataset``, ``ImageNet``);
``mmext.ImageFolderDataset`` is a deprecated alias of ``CustomDataset``.
"""
from .dtu_io import (DTULayout, MVSCamera, check_pairs, read_cam_txt,
                     read_pair_txt, read_pfm, read_scan_list, write_cam_txt,
                     write_pair_txt, write_pfm, write_scan_list)
from .dtu_mvs import DTUMVSDataset
from .image_folder import ImageFolderDataset
from .repeat_factors import compute_repeat_factors, stochastic_repeats
from .synthetic_inversion import SyntheticInversionDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'ImageFolderDataset', 'compute_repeat_factors', 'stochastic_repeats',
    'SyntheticInversionDataset', 'DTUMVSDataset', 'DTULayout', 'MVSCamera',
    'read_cam_txt', 'write_cam_txt', 'read_pair_txt', 'write_pair_txt',
    'check_pairs', 'read_pfm', 'write_pfm', 'read_scan_list', 'write_scan_list'
]
