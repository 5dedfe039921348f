"""Active learning for object detection (AL-SSL) in plain PyTorch.

Elezi et al., "Not All Labels Are Equal: Rationalizing the Labeling Costs
for Training Object Detection", CVPR 2022 (arXiv 2106.11921), trained with
the flip-consistency semi-supervised loss of CSD (Jeong et al., NeurIPS
2019). The functions here know nothing of registries or runners: per-box
class distributions, the entropy and inconsistency acquisition scores, the
selection rules, and the CSD consistency loss with its ramp.
:class:`mmext.models.det.FlipConsistencyDetector` and the flip scorer wire
them into mmdet detectors.
"""
from .consistency import csd_consistency, csd_ramp
from .distributions import class_distribution
from .scores import (box_entropy, entropy_scores, image_score,
                     inconsistency_scores, symmetric_kl)
from .selection import RULES, select

__all__ = [
    'class_distribution', 'box_entropy', 'symmetric_kl', 'image_score',
    'entropy_scores', 'inconsistency_scores', 'RULES', 'select',
    'csd_consistency', 'csd_ramp'
]
