"""mmext.models.det: detection components (need mmdet)."""
from mmext.utils.mmdet_compat import fix_ssd_head_loss_cls
from .active_learning import FlipConsistencyDetector, FlipScorer
from .dicod import DICODDistiller
from .memory_bank import ClassMemoryBank
from .panoptic_segformer import (PanopticSegFormer, PanopticSegFormerHead,
                                 merge_masks, repeated_hungarian)
from .rio_roi_head import RIORoIHead

fix_ssd_head_loss_cls()

__all__ = [
    'ClassMemoryBank', 'DICODDistiller', 'FlipConsistencyDetector',
    'FlipScorer', 'RIORoIHead', 'PanopticSegFormer',
    'PanopticSegFormerHead', 'merge_masks', 'repeated_hungarian'
]
