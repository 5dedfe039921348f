"""Which mmdet heads a wrapper can hook into.

DICOD's distiller (Guo et al., NeurIPS 2021, arXiv 2106.05209) and AL-SSL's
flip-consistency detector (Elezi et al., CVPR 2022, arXiv 2106.11921) both
work through
mmdet's own target computation of the wrapped detector's head: the
per-image ``AnchorHead._get_targets_single`` of one-stage anchor heads (and
the RPN), and the sampling results a ``StandardRoIHead`` hands its
``BBoxHead``. Heads that assign their priors another way are refused up
front, with the reason.
"""
from typing import Optional

from mmdet.models.dense_heads import AnchorHead
from mmdet.models.roi_heads import StandardRoIHead


def unsupported_head_reason(head_type: type, roi_head: bool,
                            method: str = 'DICOD') -> Optional[str]:
    """Why ``method`` cannot hook into a head class, or None.

    Args:
        head_type: The class of the detector's ``bbox_head`` (one-stage)
            or ``roi_head`` (two-stage).
        roi_head: Whether ``head_type`` is a RoI head.
        method: The method's name, for the message.
    """
    if roi_head:
        if not issubclass(head_type, StandardRoIHead):
            return (f'{head_type.__name__} is not a StandardRoIHead; '
                    f'{method} reads the proposals from StandardRoIHead\'s '
                    'sampling results')
        return None
    if not issubclass(head_type, AnchorHead):
        return (f'{head_type.__name__} has no anchor assignment to hook into'
                f' ({method} supports AnchorHead subclasses such as '
                'RetinaHead and SSDHead, and two-stage detectors with a '
                'StandardRoIHead)')
    if head_type._get_targets_single is not AnchorHead._get_targets_single:
        return (f'{head_type.__name__} assigns its anchors its own way '
                '(it overrides AnchorHead._get_targets_single); '
                f'{method} supports the heads that keep AnchorHead\'s '
                'assignment, such as RetinaHead and SSDHead')
    return None
