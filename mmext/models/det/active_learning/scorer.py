"""AL-SSL's acquisition scores of unlabelled images: the entropy and the
flip inconsistency of the detector's boxes.

Elezi et al., CVPR 2022 (arXiv 2106.11921), score each image by its boxes
of score >= ``score_thr``: the max over them of the normalised entropy of
the box's class distribution (background included), and the max of the
symmetric KL divergence between the box's distribution and that of its
counterpart in the mirrored image (:mod:`mmext.active_learning`).

- One-stage anchor heads, the reference code's way: the counterpart is the
  mirrored prior (:mod:`~mmext.models.det.active_learning.views`); the
  boxes are the original view's detections: per foreground class ``c``,
  the priors with ``p_c >= score_thr``, decoded with the head's box coder,
  NMS per class and at most ``max_per_class`` per class. Filtering by
  ``score_thr`` before NMS gives the same kept boxes of score >=
  ``score_thr`` as NMS on all candidates: greedy NMS suppresses a box only
  by a higher-scoring one, which is then above the threshold too. (The
  reference code keeps candidates from 0.01 and thresholds afterwards.)
  Scores are the per-prior distribution's ``p_c``; for sigmoid heads that
  is the normalised distribution of
  :func:`~mmext.active_learning.class_distribution`, not the raw sigmoid.
- Two-stage (``StandardRoIHead``), the paper's IoU-matched description:
  post-NMS detections of each view with the full softmax of their RoI; the
  mirror's boxes are mirrored back and each original box is paired with
  the mirror box of highest IoU (>= ``match_iou``). Assumption: an
  unmatched box is paired with the RoI head's distribution on the mirror's
  features at the mirrored box (one extra box-head forward).
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import batched_nms
from mmdet.structures.bbox import bbox2roi, bbox_overlaps, get_box_tensor
from torch import Tensor, nn

from mmext.active_learning import box_entropy, image_score, symmetric_kl
from .checks import check_scorable, is_two_stage, unwrap_detector
from .views import anchor_head_views, mirror_boxes, roi_outputs

__all__ = ['FlipScorer', 'check_scorable', 'nms_per_class']


def nms_per_class(boxes: Tensor, scores: Tensor, labels: Tensor,
                  iou_threshold: float, max_per_class: int) -> Tensor:
    """Greedy NMS within each class, then the ``max_per_class`` best of
    each class.

    Args:
        boxes: ``[N, 4]`` candidate boxes.
        scores: ``[N]`` their scores.
        labels: ``[N]`` their classes.
        iou_threshold: NMS IoU threshold.
        max_per_class: Boxes kept per class at most.

    Returns:
        ``[K]`` indices into the candidates, by descending score.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    _, keep = batched_nms(boxes, scores, labels,
                          dict(type='nms', iou_threshold=iou_threshold))
    kept_labels = labels[keep]
    onehot = F.one_hot(kept_labels, int(labels.max()) + 1)
    rank = (onehot.cumsum(0) * onehot).sum(1)  # 1-based rank in its class
    return keep[rank <= max_per_class]


class FlipScorer:
    """Entropy and flip inconsistency of each image of a batch.

    Args:
        detector: A :class:`~mmext.models.det.FlipConsistencyDetector`
            or a plain mmdet detector with a supported head (see
            :func:`check_scorable`), possibly inside a DDP-style wrapper.
        score_thr: Boxes of at least this score count (the reference: 0.5).
        nms_iou: Per-class NMS IoU threshold (the reference: 0.5).
        max_per_class: Boxes kept per class (the reference: 200).
        match_iou: Two-stage only: least IoU of an original box with its
            mirror-view partner.
        mirror_tolerance: One-stage only: how far (in strides) an anchor
            may be from its mirror's.
    """

    def __init__(self,
                 detector: nn.Module,
                 score_thr: float = 0.5,
                 nms_iou: float = 0.5,
                 max_per_class: int = 200,
                 match_iou: float = 0.5,
                 mirror_tolerance: float = 0.5) -> None:
        detector, field = unwrap_detector(detector)
        check_scorable(detector, field)
        if max_per_class < 1:
            raise ValueError(f'max_per_class: must be >= 1, got '
                             f'{max_per_class}')
        self.detector = detector
        self.field = field
        self.score_thr = float(score_thr)
        self.nms_iou = float(nms_iou)
        self.max_per_class = int(max_per_class)
        self.match_iou = float(match_iou)
        self.mirror_tolerance = float(mirror_tolerance)

    def __call__(self, data: dict) -> List[Dict[str, float]]:
        """Score a collated batch.

        Args:
            data: ``dict(inputs=[...], data_samples=[...])`` as the
                dataloader gives it; the detector's data preprocessor runs
                on it (``training=False``).

        Returns:
            Per image ``{'entropy': float, 'inconsistency': float,
            'num_boxes': int}``; an image with no box of score >=
            ``score_thr`` scores 0 on both.
        """
        detector = self.detector
        was_training = detector.training
        detector.eval()
        try:
            with torch.no_grad():
                processed = detector.data_preprocessor(data, False)
                inputs = processed['inputs']
                samples = processed['data_samples']
                if is_two_stage(detector):
                    per_image = self._roi_pairs(inputs, samples)
                else:
                    per_image = self._anchor_pairs(inputs, samples)
                return [self._image_scores(*pair) for pair in per_image]
        finally:
            detector.train(was_training)

    def _image_scores(self, probs: Tensor, flipped_probs: Tensor,
                      scores: Tensor) -> Dict[str, float]:
        """Scores of one image from its boxes' ``[K, C + 1]`` distributions
        in both views and their ``[K]`` scores."""
        entropy = image_score(box_entropy(probs), scores, self.score_thr)
        inconsistency = image_score(
            symmetric_kl(probs, flipped_probs), scores, self.score_thr)
        return dict(entropy=float(entropy),
                    inconsistency=float(inconsistency),
                    num_boxes=int(len(scores)))

    def _candidates(self, probs: Tensor) -> Tuple[Tensor, Tensor]:
        """``(rows, classes)`` of the foreground entries ``>= score_thr``
        of ``[N, C + 1]`` distributions."""
        return (probs[:, :-1] >= self.score_thr).nonzero(as_tuple=True)

    def _anchor_pairs(self, inputs: Tensor,
                      samples: Sequence) -> List[Tuple[Tensor, ...]]:
        """Per image: the kept priors' distributions in both views and
        their scores."""
        detector = self.detector
        head = detector.bbox_head
        num_images = inputs.size(0)
        feats = detector.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
        views = anchor_head_views(head, feats, num_images, inputs.size(-1),
                                  self.mirror_tolerance,
                                  f'{self.field}.bbox_head')
        pairs = []
        for image, sample in enumerate(samples):
            probs = views.probs[image]
            rows, classes = self._candidates(probs)
            boxes = get_box_tensor(
                head.bbox_coder.decode(
                    views.priors[rows], views.deltas[image, rows],
                    max_shape=sample.metainfo['img_shape'][:2]))
            scores = probs[rows, classes]
            keep = nms_per_class(boxes, scores, classes, self.nms_iou,
                                 self.max_per_class)
            kept = rows[keep]
            pairs.append((probs[kept], views.flipped_probs[image, kept],
                          scores[keep]))
        return pairs

    def _roi_detections(self, feats: Sequence[Tensor], samples: Sequence,
                        img_shapes: Sequence[Tuple[int, int]]
                        ) -> List[Tuple[Tensor, Tensor, Tensor]]:
        """Per image: ``(boxes [K, 4], scores [K], probs [K, C + 1])`` of
        the post-NMS detections, each with its RoI's full softmax."""
        detector = self.detector
        proposals = detector.rpn_head.predict(feats, samples, rescale=False)
        proposal_boxes = [proposal.bboxes for proposal in proposals]
        rois = bbox2roi(proposal_boxes)
        probs, bbox_pred = roi_outputs(detector.roi_head, feats, rois)
        bbox_head = detector.roi_head.bbox_head
        num_classes = probs.size(1) - 1
        detections = []
        start = 0
        for image, boxes in enumerate(proposal_boxes):
            rows = slice(start, start + len(boxes))
            start += len(boxes)
            image_probs, pred = probs[rows], bbox_pred[rows]
            if pred.size(1) == 4:  # class-agnostic
                pred = pred[:, None].expand(-1, num_classes, -1)
            pred = pred.reshape(len(boxes), num_classes, 4)
            roi_rows, classes = self._candidates(image_probs)
            decoded = get_box_tensor(
                bbox_head.bbox_coder.decode(
                    boxes[roi_rows], pred[roi_rows, classes],
                    max_shape=img_shapes[image]))
            scores = image_probs[roi_rows, classes]
            keep = nms_per_class(decoded, scores, classes, self.nms_iou,
                                 self.max_per_class)
            detections.append((decoded[keep], scores[keep],
                               image_probs[roi_rows[keep]]))
        return detections

    def _roi_pairs(self, inputs: Tensor,
                   samples: Sequence) -> List[Tuple[Tensor, ...]]:
        """Per image: the original view's detections' distributions, those
        of their IoU-matched mirror detections, and their scores."""
        detector = self.detector
        num_images, pad_width = inputs.size(0), inputs.size(-1)
        feats = detector.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
        originals = tuple(level[:num_images] for level in feats)
        mirrors = tuple(level[num_images:] for level in feats)
        shapes = [tuple(s.metainfo['img_shape'][:2]) for s in samples]
        # The mirror's content spans [pad_width - w, pad_width]: clip its
        # boxes to the padded width, and to the image once mirrored back.
        mirror_shapes = [(height, pad_width) for height, _ in shapes]
        mirror_samples = []
        for sample, shape in zip(samples, mirror_shapes):
            mirror = sample.clone()
            mirror.set_metainfo(dict(img_shape=shape))
            mirror_samples.append(mirror)
        found = self._roi_detections(originals, samples, shapes)
        mirrored = self._roi_detections(mirrors, mirror_samples,
                                        mirror_shapes)
        pairs = []
        unmatched_rois = []
        for image, ((boxes, scores, probs), (mboxes, _, mprobs)) in \
                enumerate(zip(found, mirrored)):
            height, width = shapes[image]
            back = mirror_boxes(mboxes, pad_width)
            back[:, 0::2] = back[:, 0::2].clamp(0, width)
            flipped_probs = probs.new_zeros(probs.shape)
            matched = torch.zeros(len(boxes), dtype=torch.bool,
                                  device=boxes.device)
            if len(boxes) and len(back):
                best_iou, best = bbox_overlaps(boxes, back).max(1)
                matched = best_iou >= self.match_iou
                flipped_probs[matched] = mprobs[best[matched]]
            unmatched_rois.append(mirror_boxes(boxes[~matched], pad_width))
            pairs.append([probs, flipped_probs, scores, matched])
        if sum(len(boxes) for boxes in unmatched_rois):
            # Unmatched boxes: the mirror's distribution at the mirrored box.
            extra, _ = roi_outputs(detector.roi_head, mirrors,
                                   bbox2roi(unmatched_rois))
            for pair, part in zip(
                    pairs, extra.split([len(b) for b in unmatched_rois])):
                pair[1][~pair[3]] = part
        return [tuple(pair[:3]) for pair in pairs]
