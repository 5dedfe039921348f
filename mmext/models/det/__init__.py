"""mmext.models.det: detection components (need mmdet)."""
from .memory_bank import ClassMemoryBank
from .rio_roi_head import RIORoIHead

__all__ = ['ClassMemoryBank', 'RIORoIHead']
