"""mmext datasets and data transforms (registered in the ``mmext`` scope).

Classification data is mmpretrain's (``CustomDataset``, ``ImageNet``);
``mmext.ImageFolderDataset`` is a deprecated alias of ``CustomDataset``.
"""
from .image_folder import ImageFolderDataset
from .repeat_factors import compute_repeat_factors, stochastic_repeats
from .synthetic_inversion import SyntheticInversionDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'ImageFolderDataset', 'compute_repeat_factors', 'stochastic_repeats',
    'SyntheticInversionDataset'
]
