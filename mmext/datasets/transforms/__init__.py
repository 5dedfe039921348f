"""mmext data transforms (registered in the ``mmext`` scope).

Importing this package also imports ``mmcv.transforms``, so MMCV's
transforms (``LoadImageFromFile``, ``Resize``, ``RandomFlip``, ...) are
registered in the root registry and resolve unprefixed from any scope.
"""
from .formatting import PackClsInputs
from .loading import LoadPanopticAnnotations

__all__ = ['PackClsInputs', 'LoadPanopticAnnotations']
