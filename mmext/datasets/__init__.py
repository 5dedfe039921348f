"""mmext datasets and data transforms (registered in the ``mmext`` scope)."""
from .image_folder import IMG_EXTENSIONS, ImageFolderDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['IMG_EXTENSIONS', 'ImageFolderDataset']
