"""Panoptic SegFormer (Li et al., CVPR 2022, arXiv 2109.03814)."""
from .detector import PanopticSegFormer
from .head import PanopticSegFormerHead
from .mask_decoder import AttentionToMask, MaskDecoder, MaskDecoderLayer
from .merging import mask_quality, merge_masks
from .query_filter import repeated_hungarian

__all__ = [
    'PanopticSegFormer', 'PanopticSegFormerHead', 'AttentionToMask',
    'MaskDecoder', 'MaskDecoderLayer', 'mask_quality', 'merge_masks',
    'repeated_hungarian'
]
