"""mmext.models.seg: SegFormer (MiT encoder, all-MLP head).

The MiT encoder needs only torch and mmengine (it also serves mmdet
models); the decode head subclasses mmseg's ``BaseDecodeHead`` and is
imported only when mmseg is installed.
"""
import importlib.util

from .mit import MIT_ARCHS, MiT, MiTArch, MixTransformer

__all__ = ['MIT_ARCHS', 'MiT', 'MiTArch', 'MixTransformer']

if importlib.util.find_spec('mmseg') is not None:
    from .segformer_head import SegFormerHead  # noqa: F401
    __all__ += ['SegFormerHead']
