"""Single-label image classification (needs only mmengine and torch)."""
from .image_classifier import ImageClassifier
from .linear_head import LinearClsHead, global_avg_pool

__all__ = ['ImageClassifier', 'LinearClsHead', 'global_avg_pool']
