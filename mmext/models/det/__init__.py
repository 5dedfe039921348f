"""mmext.models.det: detection components (need mmdet)."""
from .memory_bank import ClassMemoryBank
from .panoptic_segformer import (PanopticSegFormer, PanopticSegFormerHead,
                                 merge_masks, repeated_hungarian)
from .rio_roi_head import RIORoIHead

__all__ = [
    'ClassMemoryBank', 'RIORoIHead', 'PanopticSegFormer',
    'PanopticSegFormerHead', 'merge_masks', 'repeated_hungarian'
]
