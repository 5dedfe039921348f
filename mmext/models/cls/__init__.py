"""Classification: mmpretrain's models. ``mmext.ImageClassifier`` is a
deprecated alias that builds mmpretrain's ``ImageClassifier``."""
from .image_classifier import build_deprecated_image_classifier

__all__ = ['build_deprecated_image_classifier']
