"""Which wrapped detectors flip consistency and flip scoring support.

AL-SSL (Elezi et al., CVPR 2022, arXiv 2106.11921) needs per-box class
distributions of an image and of its mirror, and trains pseudo-labelled
images on their positives only through mmdet's own target computation:
one-stage heads of the ``AnchorHead`` family that keep its
``_get_targets_single``, or two-stage detectors with an ``AnchorHead``-style
RPN and a ``StandardRoIHead`` whose ``BBoxHead`` gives ``C + 1`` softmax
logits.
"""
from typing import Optional, Tuple

from mmdet.models.dense_heads import AnchorHead
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from torch import nn

from ..head_support import unsupported_head_reason

METHOD = 'flip consistency'


def is_two_stage(detector: nn.Module) -> bool:
    """Whether the detector classifies with a RoI head."""
    return getattr(detector, 'roi_head', None) is not None


def unwrap_detector(model: nn.Module) -> Tuple[nn.Module, str]:
    """``(detector, field)``: the mmdet detector inside ``model`` and its
    config field.

    ``model`` may be a DDP-style wrapper (``.module``), a
    :class:`~mmext.models.det.FlipConsistencyDetector` (its ``detector``,
    field ``'model.detector'``) or a plain detector (field ``'model'``).
    """
    while isinstance(getattr(model, 'module', None), nn.Module):
        model = model.module
    inner = getattr(model, 'detector', None)
    if isinstance(inner, nn.Module) and not hasattr(model, 'bbox_head') \
            and not hasattr(model, 'roi_head'):
        return inner, 'model.detector'
    return model, 'model'


def check_scorable(detector: nn.Module,
                   field: Optional[str] = None) -> None:
    """Raise when the detector's head cannot give per-box class
    distributions of both views.

    Args:
        detector: A built mmdet detector, or a
            :class:`~mmext.models.det.FlipConsistencyDetector` (checked is
            its ``detector``), possibly inside a DDP-style wrapper.
        field: The detector's config field, for the message; by default
            ``'model.detector'`` for the wrapper's, ``'model'`` for a
            plain detector.

    Raises:
        ValueError: naming ``<field>.bbox_head``, ``<field>.rpn_head`` or
            ``<field>.roi_head``.
    """
    detector, default_field = unwrap_detector(detector)
    field = default_field if field is None else field
    if is_two_stage(detector):
        roi_head = detector.roi_head
        reason = unsupported_head_reason(type(roi_head), True, METHOD)
        if reason is None and not isinstance(
                getattr(roi_head, 'bbox_head', None), BBoxHead):
            reason = (f'its bbox_head {type(roi_head.bbox_head).__name__} is'
                      ' not a BBoxHead')
        if reason is None and getattr(roi_head.bbox_head,
                                      'custom_cls_channels', False):
            reason = ('its bbox_head has custom classification channels; '
                      f'{METHOD} needs C + 1 softmax logits per box')
        if reason is not None:
            raise ValueError(f'{field}.roi_head: {reason}')
        rpn_head = getattr(detector, 'rpn_head', None)
        if rpn_head is None:
            raise ValueError(f'{field}.rpn_head: missing; {METHOD} needs '
                             'the detector\'s own proposals')
        reason = unsupported_head_reason(type(rpn_head), False, METHOD)
        if reason is not None:
            raise ValueError(f'{field}.rpn_head: {reason}')
        return
    head = getattr(detector, 'bbox_head', None)
    if head is None:
        raise ValueError(f'{field}: neither a bbox_head (one-stage) nor a '
                         f'roi_head (two-stage); {METHOD} needs per-box '
                         'class distributions')
    reason = unsupported_head_reason(type(head), False, METHOD)
    if reason is None and not isinstance(head, AnchorHead):
        reason = f'{type(head).__name__} is not an AnchorHead'
    if reason is not None:
        raise ValueError(f'{field}.bbox_head: {reason}')
