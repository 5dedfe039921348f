"""mmext datasets and data transforms (registered in the ``mmext`` scope)."""
from .image_folder import IMG_EXTENSIONS, ImageFolderDataset
from .repeat_factors import compute_repeat_factors, stochastic_repeats
from .transforms import *  # noqa: F401,F403

__all__ = [
    'IMG_EXTENSIONS', 'ImageFolderDataset', 'compute_repeat_factors',
    'stochastic_repeats'
]
