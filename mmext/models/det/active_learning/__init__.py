"""AL-SSL's detector side (Elezi et al., CVPR 2022, arXiv 2106.11921): the
registered flip-consistency training wrapper and the flip scorer of the
acquisition; the maths is in :mod:`mmext.active_learning`."""
from .checks import check_scorable
from .detector import FlipConsistencyDetector
from .scorer import FlipScorer

__all__ = ['FlipConsistencyDetector', 'FlipScorer', 'check_scorable']
