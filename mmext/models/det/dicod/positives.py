"""The positive anchors or proposals of one training forward of an mmdet
detector, with the predictions DICOD distils on them.

DICOD (Guo et al., NeurIPS 2021, arXiv 2106.05209, Eq. 1) applies both KD
losses to the positives only: the anchors (one-stage heads) or proposals
(the RoI head of two-stage detectors) that the detector's own assigner
matched to a ground truth. Rather than re-implementing assignment, the
recorders here watch the head's own target computation during
``detector.loss`` (instance-level wrappers of two methods, removed when the
forward ends) and read the positives off mmdet's ``SamplingResult``:

- ``AnchorHead`` and subclasses that keep its ``_get_targets_single``
  (RetinaNet's ``RetinaHead``, ``SSDHead``, ...): ``loss_by_feat`` gives the
  per-level predictions, ``_get_targets_single`` each image's sampling
  result;
- ``StandardRoIHead`` with a ``BBoxHead`` (Faster R-CNN and relatives):
  ``bbox_head.loss_and_target`` gives the RoI predictions, the rois and the
  sampling results.
"""
import contextlib
import inspect
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence

import torch
from mmdet.models.dense_heads import AnchorHead
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor, nn

from mmext.models.utils import patched_method
from ..head_support import unsupported_head_reason


@dataclass
class Positives:
    """The positives of a batch.

    Attributes:
        batch_index: ``[K]`` image of each positive.
        gt_index: ``[K]`` its assigned ground truth, as an index into the
            batch's ground truths concatenated image by image.
        labels: ``[K]`` the ground truth's label.
        cls_logits: ``[K, C]`` (sigmoid heads) or ``[K, C + 1]`` (softmax
            heads, background last) classification logits, with graph.
        pred_boxes: ``[K, 4]`` decoded predicted boxes ``(x1, y1, x2, y2)``,
            clipped to the image, with graph.
        gt_boxes: ``[K, 4]`` the assigned ground-truth boxes.
        sigmoid: Whether the head classifies with per-class sigmoids.
    """
    batch_index: Tensor
    gt_index: Tensor
    labels: Tensor
    cls_logits: Tensor
    pred_boxes: Tensor
    gt_boxes: Tensor
    sigmoid: bool

    def rois(self, boxes: Tensor) -> Tensor:
        """``[K, 5]`` rois (batch index first) of ``boxes`` ``[K, 4]``."""
        return torch.cat([self.batch_index[:, None].to(boxes), boxes], 1)


def _recording(module: nn.Module, name: str,
               calls: List[Dict[str, Any]]):
    """Record ``module.name``'s bound arguments and result while inside."""
    signature = inspect.signature(getattr(module, name))

    def wrap(method):

        def recorded(*args, **kwargs):
            result = method(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            calls.append(dict(bound.arguments, result=result))
            return result

        return recorded

    return patched_method(module, name, wrap)


def _only_call(calls: List[Dict[str, Any]], module: nn.Module,
               name: str) -> Dict[str, Any]:
    """The one recorded call of ``module.name`` in a forward."""
    if len(calls) != 1:
        raise RuntimeError(
            f'{type(module).__name__}.{name} ran {len(calls)} times in one '
            'forward; DICOD needs exactly one')
    return calls[0]


class AnchorHeadPositives:
    """Positive anchors of a one-stage head (``AnchorHead`` assignment).

    Args:
        head: The student's ``bbox_head``.
    """

    def __init__(self, head: AnchorHead) -> None:
        reason = unsupported_head_reason(type(head), roi_head=False)
        if reason is not None:
            raise ValueError(f'model.student.bbox_head: {reason}')
        self.head = head
        self._loss_calls: List[Dict[str, Any]] = []
        self._target_calls: List[Dict[str, Any]] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator['AnchorHeadPositives']:
        """Record one ``detector.loss`` call."""
        self._loss_calls.clear()
        self._target_calls.clear()
        with _recording(self.head, 'loss_by_feat', self._loss_calls), \
                _recording(self.head, '_get_targets_single',
                           self._target_calls):
            yield self

    def positives(self, num_gts: Sequence[int],
                  img_shapes: Sequence[Sequence[int]]) -> Positives:
        """The recorded positives.

        Args:
            num_gts: Ground truths per image (to index them batch-wide).
            img_shapes: ``(h, w)`` of each image, to clip the boxes.
        """
        head = self.head
        call = _only_call(self._loss_calls, head, 'loss_by_feat')
        num_images = len(call['batch_img_metas'])
        if len(self._target_calls) != num_images:
            raise RuntimeError(
                f'{type(head).__name__} computed targets for '
                f'{len(self._target_calls)} images of a batch of '
                f'{num_images}; DICOD cannot match them to the predictions')
        # [B, sum_l H_l * W_l * A, C'] in mmdet's anchor order (level,
        # row, column, anchor).
        cls_scores = torch.cat([
            score.permute(0, 2, 3, 1).reshape(num_images, -1,
                                              head.cls_out_channels)
            for score in call['cls_scores']
        ], 1)
        box_deltas = torch.cat([
            pred.permute(0, 2, 3, 1).reshape(num_images, -1,
                                             head.bbox_coder.encode_size)
            for pred in call['bbox_preds']
        ], 1)
        parts = []
        for image, target_call in enumerate(self._target_calls):
            sampling = target_call['result'][-1]
            # The head's own test of which anchors lie inside the image.
            inside = anchor_inside_flags(
                get_box_tensor(target_call['flat_anchors']),
                target_call['valid_flags'],
                target_call['img_meta']['img_shape'][:2],
                head.train_cfg['allowed_border'])
            flat_index = torch.nonzero(inside).squeeze(1)[sampling.pos_inds]
            pred_boxes = get_box_tensor(
                head.bbox_coder.decode(
                    sampling.pos_priors, box_deltas[image, flat_index],
                    max_shape=img_shapes[image][:2]))
            parts.append((sampling, cls_scores[image, flat_index],
                          pred_boxes))
        return _concat(parts, num_gts, sigmoid=head.use_sigmoid_cls,
                       like=cls_scores)


class RoIHeadPositives:
    """Positive proposals of a ``StandardRoIHead`` with a ``BBoxHead``.

    Args:
        roi_head: The student's ``roi_head``.
    """

    def __init__(self, roi_head: StandardRoIHead) -> None:
        reason = unsupported_head_reason(type(roi_head), roi_head=True)
        if reason is None and not isinstance(roi_head.bbox_head, BBoxHead):
            reason = (f'its bbox_head {type(roi_head.bbox_head).__name__} '
                      'is not a BBoxHead')
        if reason is not None:
            raise ValueError(f'model.student.roi_head: {reason}')
        self.bbox_head = roi_head.bbox_head
        self._calls: List[Dict[str, Any]] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator['RoIHeadPositives']:
        """Record one ``detector.loss`` call."""
        self._calls.clear()
        with _recording(self.bbox_head, 'loss_and_target', self._calls):
            yield self

    def positives(self, num_gts: Sequence[int],
                  img_shapes: Sequence[Sequence[int]]) -> Positives:
        """The recorded positives.

        Args:
            num_gts: Ground truths per image.
            img_shapes: ``(h, w)`` of each image, to clip the boxes.
        """
        head = self.bbox_head
        call = _only_call(self._calls, head, 'loss_and_target')
        cls_score, bbox_pred, rois = (call['cls_score'], call['bbox_pred'],
                                      call['rois'])
        sigmoid = bool(getattr(head.loss_cls, 'use_sigmoid', False))
        parts = []
        start = 0
        for image, sampling in enumerate(call['sampling_results']):
            # bbox_loss stacks each image's rois as [positives, negatives].
            rows = start + torch.arange(len(sampling.pos_inds),
                                        device=rois.device)
            start += len(sampling.priors)
            labels = sampling.pos_gt_labels
            if head.reg_class_agnostic:
                deltas = bbox_pred[rows]
            else:
                deltas = bbox_pred.view(bbox_pred.size(0), -1,
                                        4)[rows, labels]
            pred_boxes = get_box_tensor(
                head.bbox_coder.decode(rois[rows, 1:], deltas,
                                       max_shape=img_shapes[image][:2]))
            logits = cls_score[rows]
            if sigmoid:
                logits = logits[:, :head.num_classes]
            parts.append((sampling, logits, pred_boxes))
        return _concat(parts, num_gts, sigmoid=sigmoid, like=cls_score)


def _concat(parts: list, num_gts: Sequence[int], sigmoid: bool,
            like: Tensor) -> Positives:
    """One :class:`Positives` from per-image ``(sampling, logits,
    pred_boxes)`` tuples, in image order; ``num_gts`` (ground truths per
    image) gives each image's offset into the batch's ground truths."""
    device = like.device
    batch_index, gt_index, labels, logits, pred, gt = [], [], [], [], [], []
    gt_offset = 0
    for image, (sampling, image_logits, pred_boxes) in enumerate(parts):
        count = len(sampling.pos_inds)
        batch_index.append(
            torch.full((count, ), image, dtype=torch.long, device=device))
        gt_index.append(sampling.pos_assigned_gt_inds.long() + gt_offset)
        gt_offset += int(num_gts[image])
        labels.append(sampling.pos_gt_labels.long())
        logits.append(image_logits)
        pred.append(pred_boxes)
        gt.append(get_box_tensor(sampling.pos_gt_bboxes))
    return Positives(
        batch_index=torch.cat(batch_index),
        gt_index=torch.cat(gt_index).to(device),
        labels=torch.cat(labels).to(device),
        cls_logits=torch.cat(logits),
        pred_boxes=torch.cat(pred),
        gt_boxes=torch.cat(gt).to(like.dtype),
        sigmoid=sigmoid)
