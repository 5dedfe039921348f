"""mmext metrics."""
from .accuracy import Accuracy
from .coco_panoptic_metric import CocoPanopticMetric
from .mvs_depth import MVSDepthMetric, depth_error_stats
from .reconstruction import (IdentifiabilityPrecision,
                             ImageReconstructionMetric, LabelRecoveryAccuracy,
                             multiset_label_hits)

try:  # needs mmdet
    from .lvis_metric import LVISMetric, numpy_float_alias  # noqa: F401
except ImportError:  # pragma: no cover
    pass

__all__ = [
    'Accuracy', 'CocoPanopticMetric', 'MVSDepthMetric', 'depth_error_stats',
    'IdentifiabilityPrecision', 'ImageReconstructionMetric',
    'LabelRecoveryAccuracy', 'multiset_label_hits'
]
