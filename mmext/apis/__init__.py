"""High-level entry points, as mmdet's and mmseg's ``apis``."""
from .inference import init_model, sample_test_batch

__all__ = ['init_model', 'sample_test_batch']
