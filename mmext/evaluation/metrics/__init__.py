"""mmext metrics."""
from .accuracy import Accuracy, topk_accuracy
from .reconstruction import (IdentifiabilityPrecision,
                             ImageReconstructionMetric, LabelRecoveryAccuracy,
                             multiset_label_hits)

__all__ = [
    'Accuracy', 'topk_accuracy', 'IdentifiabilityPrecision',
    'ImageReconstructionMetric', 'LabelRecoveryAccuracy',
    'multiset_label_hits'
]
