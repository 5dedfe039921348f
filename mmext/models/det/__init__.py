"""mmext.models.det: detection components (need mmdet)."""
from .dicod import DICODDistiller
from .memory_bank import ClassMemoryBank
from .panoptic_segformer import (PanopticSegFormer, PanopticSegFormerHead,
                                 merge_masks, repeated_hungarian)
from .rio_roi_head import RIORoIHead

__all__ = [
    'ClassMemoryBank', 'DICODDistiller', 'RIORoIHead', 'PanopticSegFormer',
    'PanopticSegFormerHead', 'merge_masks', 'repeated_hungarian'
]
