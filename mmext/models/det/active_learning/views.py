"""Head outputs of an image and of its horizontal mirror, paired prior by
prior (one-stage anchor heads) or box by box (the RoI head).

AL-SSL (Elezi et al., CVPR 2022, arXiv 2106.11921) scores and trains with
the flip consistency of CSD (Jeong et al., NeurIPS 2019): the detector sees
a batch and its mirror, the mirror's per-level head maps are flipped back
along the width, so that prior ``i`` of both views is the same (mirrored)
anchor, and the class distributions and box deltas of the two views are
compared prior by prior. That pairing is only right when the anchors of the
padded batch are themselves mirror-symmetric, which
:func:`check_mirrored_priors` verifies before any use.

For two-stage detectors the RoI head plays the part of the anchors: the
same boxes (the original view's proposals) are pooled from the original
features and, mirrored, from the mirror's features.
"""
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
from mmdet.models.dense_heads import AnchorHead
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from torch import Tensor

from mmext.active_learning import class_distribution


@dataclass
class AnchorViews:
    """Per-prior outputs of both views of a batch (mmdet's prior order:
    level, row, column, anchor).

    Attributes:
        probs: ``[B, P, C + 1]`` class distributions of the original view,
            background last.
        flipped_probs: ``[B, P, C + 1]`` those of the mirror at the mirrored
            prior.
        deltas: ``[B, P, 4]`` encoded box deltas ``(dx, dy, dw, dh)`` of the
            original view.
        flipped_deltas: ``[B, P, 4]`` those of the mirror (``dx`` in the
            mirror's own frame, so it is ``-dx`` when consistent).
        priors: ``[P, 4]`` the priors ``(x1, y1, x2, y2)`` in pixels of the
            padded batch.
    """
    probs: Tensor
    flipped_probs: Tensor
    deltas: Tensor
    flipped_deltas: Tensor
    priors: Tensor


def flatten_levels(maps: Sequence[Tensor], channels: int) -> Tensor:
    """``[N, A * channels, H_l, W_l]`` per level -> ``[N, P, channels]`` in
    mmdet's prior order (level, row, column, anchor), ``P = sum_l H_l W_l
    A``."""
    return torch.cat([
        level.permute(0, 2, 3, 1).reshape(level.size(0), -1, channels)
        for level in maps
    ], 1)


def mirror_boxes(boxes: Tensor, width: float) -> Tensor:
    """``[N, 4]`` boxes ``(x1, y1, x2, y2)`` mirrored in an image ``width``
    pixels wide: ``x1' = width - x2``, ``x2' = width - x1``."""
    return torch.stack([
        width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]
    ], 1)


def check_mirrored_priors(head: AnchorHead,
                          featmap_sizes: Sequence[Tuple[int, int]],
                          pad_width: int,
                          tolerance: float = 0.5,
                          field: str = 'model.detector.bbox_head') -> Tensor:
    """The head's priors for a padded batch, checked to pair with their
    mirrors.

    Prior ``(row, col, a)`` of the original view is paired with prior
    ``(row, W_l - 1 - col, a)`` of the mirror (the flipped-back maps). Its
    centre, mirrored into the original image (``pad_width - x``), must lie
    within ``tolerance`` strides of the original prior's centre.

    Args:
        head: A one-stage anchor head (``prior_generator`` and
            ``num_base_priors`` per level).
        featmap_sizes: ``(H_l, W_l)`` per level.
        pad_width: Width of the padded batch in pixels.
        tolerance: Allowed distance as a fraction of the level's stride.
            0.5 (the default) means each anchor is paired with the anchor
            nearest to its mirror. The stock SSD300 on 300 px images pairs
            anchors up to 0.62 strides apart (its stride-32 and -64 grids
            span 320 px), as the reference code does: it needs 0.63 or
            more.
        field: The config field of the head, for the error message.

    Returns:
        ``[P, 4]`` the priors, all levels concatenated.

    Raises:
        ValueError: naming ``<field>.anchor_generator.center_offset`` when
            the generator has a ``center_offset`` other than 0.5 (such as
            RetinaNet's default 0), else ``<field>.anchor_generator``.
    """
    generator = head.prior_generator
    device = next(head.parameters()).device
    levels = generator.grid_priors(featmap_sizes, device=device)
    for level, (priors, (height, width)) in enumerate(
            zip(levels, featmap_sizes)):
        priors = get_box_tensor(priors)
        grid = priors.view(height, width, -1, 4)
        centre = (grid[..., 0] + grid[..., 2]) / 2
        mirrored = pad_width - centre.flip(1)
        error = float((mirrored - centre).abs().max()) if centre.numel() \
            else 0.
        stride = float(generator.strides[level][0])
        if error > tolerance * stride + 1e-4:
            raise ValueError(
                _mirror_error(generator, field, level, stride, error,
                              pad_width, tolerance))
    return torch.cat([get_box_tensor(priors) for priors in levels])


def _mirror_error(generator, field: str, level: int, stride: float,
                  error: float, pad_width: int, tolerance: float) -> str:
    """The message of :func:`check_mirrored_priors`, with the fix that
    fits the prior generator."""
    message = (f'the anchors of level {level} (stride {stride:g} px) do '
               f'not mirror onto each other for a padded batch {pad_width} '
               f'px wide: an anchor and the one flip consistency pairs it '
               f'with are {error:g} px ({error / stride:.2f} strides) apart '
               f'once mirrored, more than mirror_tolerance={tolerance} '
               'strides.')
    offset = getattr(generator, 'center_offset', None)
    if getattr(generator, 'centers', None) is None and offset is not None \
            and abs(offset - 0.5) > 1e-6:
        return (f'{field}.anchor_generator.center_offset={offset:g}: '
                f'{message} Set center_offset=0.5 (mmdet\'s AnchorGenerator '
                'default 0 puts the anchor centres on the cell corners, one '
                'stride off their mirrors) and pad the batch to a multiple '
                'of the largest stride (data_preprocessor.pad_size_divisor).')
    return (f'{field}.anchor_generator: {message} Use an input size whose '
            'feature maps span it exactly (a multiple of every stride, '
            'data_preprocessor.pad_size_divisor), or accept the offset with '
            'a larger mirror_tolerance (the stock SSD300, 300 px with '
            'strides up to 64, is off by 0.62 strides, as in the reference '
            'code).')


def check_mirrored_features(feat_widths: Sequence[int],
                            strides: Sequence[float],
                            pad_width: int,
                            tolerance: float = 0.5,
                            field: str = 'model.detector') -> None:
    """RoI pooling of mirrored boxes reads mirrored features only when each
    pooled level spans the padded width (``W_l * stride == pad_width``,
    within ``tolerance`` strides).

    Args:
        feat_widths: ``W_l`` of the levels the RoI extractor reads.
        strides: Their strides in pixels.
        pad_width: Width of the padded batch in pixels.
        tolerance: Allowed mismatch as a fraction of the stride.
        field: The detector's config field, for the error message.

    Raises:
        ValueError: naming ``<field>.data_preprocessor.pad_size_divisor``.
    """
    for width, stride in zip(feat_widths, strides):
        error = abs(width * float(stride) - pad_width)
        if error > tolerance * float(stride) + 1e-4:
            raise ValueError(
                f'{field}.data_preprocessor.pad_size_divisor: the padded '
                f'batch is {pad_width} px wide but the stride-{stride:g} '
                f'feature map spans {width} x {stride:g} px, so mirrored '
                'boxes do not pool mirrored features; pad to a multiple of '
                'the largest feature stride')


def anchor_head_views(head: AnchorHead,
                      feats: Sequence[Tensor],
                      num_images: int,
                      pad_width: int,
                      tolerance: float = 0.5,
                      field: str = 'model.detector.bbox_head') -> AnchorViews:
    """Per-prior outputs of both views from the features of
    ``cat(images, images.flip(-1))``.

    Args:
        head: The one-stage anchor head (``SSDHead``, ``RetinaHead``...).
        feats: Per-level features ``[2B, C_l, H_l, W_l]``, the first ``B``
            of the original images, the last ``B`` of their mirrors.
        num_images: ``B``.
        pad_width: Width of the padded batch in pixels.
        tolerance: See :func:`check_mirrored_priors`.
        field: The head's config field, for errors.
    """
    cls_scores, bbox_preds = head(feats)
    priors = check_mirrored_priors(
        head, [tuple(score.shape[-2:]) for score in cls_scores], pad_width,
        tolerance, field)
    logits = flatten_levels(cls_scores, head.cls_out_channels)
    flipped_logits = flatten_levels(
        [score[num_images:].flip(-1) for score in cls_scores],
        head.cls_out_channels)
    deltas = flatten_levels(bbox_preds, head.bbox_coder.encode_size)
    flipped_deltas = flatten_levels(
        [pred[num_images:].flip(-1) for pred in bbox_preds],
        head.bbox_coder.encode_size)
    sigmoid = bool(head.use_sigmoid_cls)
    return AnchorViews(
        probs=class_distribution(logits[:num_images], sigmoid),
        flipped_probs=class_distribution(flipped_logits, sigmoid),
        deltas=deltas[:num_images],
        flipped_deltas=flipped_deltas,
        priors=priors)


def roi_outputs(roi_head: StandardRoIHead, feats: Sequence[Tensor],
                rois: Tensor) -> Tuple[Tensor, Tensor]:
    """``(probs [R, C + 1], bbox_pred)`` of the RoI head on ``rois``
    ``[R, 5]``: softmax distributions (background last) and the raw deltas
    (``[R, 4]`` class-agnostic or ``[R, 4 C]``)."""
    outputs = roi_head._bbox_forward(tuple(feats), rois)
    return outputs['cls_score'].softmax(-1), outputs['bbox_pred']


def class_deltas(bbox_pred: Tensor, classes: Tensor) -> Tensor:
    """``[R, 4]`` deltas: ``bbox_pred`` itself when class-agnostic (``[R,
    4]``), else those of ``classes`` ``[R]`` from ``[R, 4 C]``."""
    if bbox_pred.size(1) == 4:
        return bbox_pred
    rows = torch.arange(len(bbox_pred), device=bbox_pred.device)
    return bbox_pred.view(len(bbox_pred), -1, 4)[rows, classes]


def roi_head_views(
        roi_head: StandardRoIHead, feats: Sequence[Tensor],
        flipped_feats: Sequence[Tensor], boxes: List[Tensor],
        pad_width: int, tolerance: float = 0.5,
        field: str = 'model.detector') -> Tuple[Tensor, Tensor, Tensor,
                                                Tensor]:
    """RoI-head outputs of both views on the same (mirrored) boxes.

    Args:
        roi_head: A ``StandardRoIHead`` with a ``BBoxHead``.
        feats: Per-level features ``[B, C_l, H_l, W_l]`` of the originals.
        flipped_feats: Those of the mirrors.
        boxes: Per image ``[R_i, 4]`` boxes in the originals (detached).
        pad_width: Width of the padded batch in pixels.
        tolerance: See :func:`check_mirrored_features`.
        field: The detector's config field, for errors.

    Returns:
        ``(probs, flipped_probs, deltas, flipped_deltas)``: ``[R, C + 1]``
        softmax distributions and ``[R, 4]`` deltas, the class-agnostic ones
        or those of the original view's most likely foreground class.
    """
    extractor = roi_head.bbox_roi_extractor
    check_mirrored_features(
        [f.size(-1) for f in feats[:extractor.num_inputs]],
        extractor.featmap_strides, pad_width, tolerance, field)
    rois = bbox2roi(boxes)
    flipped_rois = torch.cat(
        [rois[:, :1], mirror_boxes(rois[:, 1:], pad_width)], 1)
    probs, bbox_pred = roi_outputs(roi_head, feats, rois)
    flipped_probs, flipped_pred = roi_outputs(roi_head, flipped_feats,
                                              flipped_rois)
    classes = probs[:, :-1].argmax(1)
    return (probs, flipped_probs, class_deltas(bbox_pred, classes),
            class_deltas(flipped_pred, classes))
