"""High-level entry points, as mmdet's and mmseg's ``apis``."""
from .inference import init_model

__all__ = ['init_model']
