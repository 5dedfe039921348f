"""DICOD's registered distiller (Guo et al., NeurIPS 2021, arXiv
2106.05209); the maths is in :mod:`mmext.distillation`."""
from .distiller import DICODDistiller, KDClsConfig, KDLocConfig

__all__ = ['DICODDistiller', 'KDClsConfig', 'KDLocConfig']
