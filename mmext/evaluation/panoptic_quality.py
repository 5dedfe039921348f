"""Panoptic quality (PQ), SQ and RQ without panopticapi.

Kirillov et al., "Panoptic Segmentation", CVPR 2019 (arXiv 1801.00868),
define, per category,

    PQ = sum_{TP} IoU / (|TP| + |FP| / 2 + |FN| / 2) = SQ * RQ,
    SQ = sum_{TP} IoU / |TP|,  RQ = |TP| / (|TP| + |FP| / 2 + |FN| / 2),

where a ground-truth and a predicted segment of the same category match
(a TP) when their IoU exceeds 0.5, which makes matches unique. This module
implements the COCO evaluation rules of the reference tool (panopticapi's
``pq_compute``), written from those rules:

* IoU's union leaves out the prediction's pixels on VOID (ground-truth id 0):
  ``union = pred_area + gt_area - intersection - void_overlap_of_pred``;
  a match needs IoU > 0.5 strictly.
* Crowd ground-truth segments (``iscrowd == 1``) are never matched and never
  counted as FN.
* An unmatched prediction is not a FP when more than half of its area lies
  on VOID plus ground-truth crowd segments of its own category.
* Every other unmatched non-crowd ground-truth segment is a FN, including
  one listed with no pixels at all; every other unmatched prediction is a
  FP.
* The All / Things / Stuff figures average the per-category values over the
  categories with ``TP + FP + FN > 0``; ``n`` counts them.

Where panopticapi is silent or loose, this module chooses:

* ground-truth areas are counted in ``gt_ids`` (panopticapi reads the JSON
  ``area``; the two agree on consistent data);
* a prediction's crowd overlap sums all same-category crowd segments
  (panopticapi keeps only the last one listed per category; COCO has at
  most one per category and image, so COCO results are equal);
* pixels whose id no segment lists raise, for the ground truth too
  (panopticapi checks only predictions), as do segment id 0, repeated ids
  and ground-truth categories missing from ``categories`` (panopticapi
  drops those silently);
* a group (Things or Stuff) without any occurring category reports 0.0 with
  ``n == 0`` (panopticapi divides by zero), and categories that do not
  occur are left out of ``per_class`` (panopticapi lists them as zeros).

Statistics are kept per category as ``[tp, fp, fn, iou_sum]`` so that they
can be computed per image, gathered (e.g. across DDP ranks) and summed:
:func:`sample_pq_stats`, :func:`merge_pq_stats` and :func:`summarize_pq`
are the three steps that :func:`panoptic_quality` chains.
"""
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from mmext.structures.panoptic import VOID

#: Per-category statistics: ``{category_id: [tp, fp, fn, iou_sum]}``.
PQStats = Dict[int, List[float]]
Segment = Mapping[str, Any]

_INT64_MAX = np.iinfo(np.int64).max


def category_table(categories: Iterable[Mapping[str, Any]]) -> Dict[int, bool]:
    """``{category_id: isthing}`` from a list of category dicts.

    Args:
        categories (Iterable[Mapping]): Dicts with ``'id'`` and
            ``'isthing'`` (as in a COCO panoptic JSON).

    Returns:
        dict[int, bool]: In the order given.
    """
    table: Dict[int, bool] = {}
    for cat in categories:
        for key in ('id', 'isthing'):
            if key not in cat:
                raise ValueError(f'categories: entry {dict(cat)!r} has no '
                                 f"'{key}'; every category needs 'id' and "
                                 "'isthing'")
        cat_id = int(cat['id'])
        if cat_id in table:
            raise ValueError(f'categories: category id {cat_id} is listed '
                             'twice')
        table[cat_id] = bool(cat['isthing'])
    return table


def _id_map(ids: Any, name: str, index: Union[int, str]) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f'sample {index}: {name} must be a 2-D integer '
                         f'array, got {ids.dtype} of shape {ids.shape}')
    ids = ids.astype(np.int64, copy=False)
    if ids.size and ids.min() < 0:
        raise ValueError(f'sample {index}: {name} holds negative ids')
    return ids


def _segment_table(segments: Sequence[Segment], role: str,
                   index: Union[int, str], known: Mapping[int, bool]
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment ids, categories and crowd flags as arrays (validated)."""
    ids, cats, crowd = [], [], []
    for seg in segments:
        if 'id' not in seg or 'category_id' not in seg:
            raise ValueError(f'sample {index}: {role} segment {dict(seg)!r} '
                             "needs 'id' and 'category_id'")
        seg_id, cat = int(seg['id']), int(seg['category_id'])
        if seg_id <= VOID:
            raise ValueError(f'sample {index}: {role} segment id {seg_id} '
                             f'must be positive ({VOID} is VOID)')
        if cat not in known:
            raise ValueError(f'sample {index}: {role} segment {seg_id} has '
                             f'category_id {cat}, which is not in '
                             'categories')
        ids.append(seg_id)
        cats.append(cat)
        crowd.append(int(seg.get('iscrowd', 0)) == 1)
    id_arr = np.asarray(ids, dtype=np.int64)
    uniq, counts = np.unique(id_arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f'sample {index}: {role} segment id '
                         f'{int(uniq[counts > 1][0])} is listed twice')
    return id_arr, np.asarray(cats, dtype=np.int64), np.asarray(crowd, bool)


def _lookup(table: np.ndarray, values: np.ndarray
            ) -> Tuple[np.ndarray, np.ndarray]:
    """Positions of ``values`` in the unsorted ``table`` and a found mask."""
    if len(table) == 0:
        return (np.zeros(len(values), np.int64),
                np.zeros(len(values), bool))
    order = np.argsort(table, kind='stable')
    pos = np.minimum(np.searchsorted(table[order], values), len(table) - 1)
    found = table[order][pos] == values
    return order[pos], found


def _add(stats: PQStats, cats: np.ndarray, column: int,
         values: Optional[np.ndarray] = None) -> None:
    for k, cat in enumerate(cats.tolist()):
        row = stats.setdefault(cat, [0, 0, 0, 0.0])
        row[column] += 1 if values is None else float(values[k])


def sample_pq_stats(gt_ids: np.ndarray,
                    gt_segments: Sequence[Segment],
                    pred_ids: np.ndarray,
                    pred_segments: Sequence[Segment],
                    categories: Mapping[int, bool],
                    index: Union[int, str] = 0) -> PQStats:
    """Per-category TP / FP / FN counts and TP IoU sums of one image.

    The image is processed with one ``np.unique`` over the combined ids
    ``gt_id * offset + pred_id`` (its counts are all pairwise
    intersections); everything else works on arrays of segment pairs.

    Args:
        gt_ids (np.ndarray): (H, W) ground-truth segment ids, 0 = VOID.
        gt_segments (Sequence[Mapping]): ``{'id', 'category_id'}`` dicts,
            optionally ``'iscrowd'`` (missing = 0). A listed segment without
            pixels is a FN (unless crowd).
        pred_ids (np.ndarray): (H, W) predicted segment ids, 0 = VOID.
        pred_segments (Sequence[Mapping]): ``{'id', 'category_id'}`` dicts.
        categories (Mapping[int, bool]): ``{category_id: isthing}``, see
            :func:`category_table`.
        index (int | str): Names the image in error messages.

    Returns:
        PQStats: ``{category_id: [tp, fp, fn, iou_sum]}`` for the
        categories with a TP, FP or FN in this image.

    Raises:
        ValueError: Malformed maps or segments; a segment whose category is
            not in ``categories``; pixels whose id no segment lists; a
            predicted segment without pixels.
    """
    gt = _id_map(gt_ids, 'gt_ids', index)
    pred = _id_map(pred_ids, 'pred_ids', index)
    if gt.shape != pred.shape:
        raise ValueError(f'sample {index}: gt_ids {gt.shape} and pred_ids '
                         f'{pred.shape} differ in shape')
    g_ids, g_cat, g_crowd = _segment_table(gt_segments, 'ground-truth',
                                           index, categories)
    p_ids, p_cat, _ = _segment_table(pred_segments, 'predicted', index,
                                     categories)

    # All pairwise intersections from one np.unique over combined ids.
    offset = int(pred.max()) + 1 if pred.size else 1
    if gt.size and int(gt.max()) >= _INT64_MAX // offset:
        raise ValueError(f'sample {index}: segment ids too large to pair '
                         'in int64')
    pairs, inter = np.unique(gt * offset + pred, return_counts=True)
    pair_gt, pair_pred = pairs // offset, pairs % offset

    gi, g_found = _lookup(g_ids, pair_gt)
    pi, p_found = _lookup(p_ids, pair_pred)
    on_gt, on_pred = pair_gt != VOID, pair_pred != VOID
    if (on_gt & ~g_found).any():
        bad = int(pair_gt[on_gt & ~g_found][0])
        raise ValueError(f'sample {index}: gt_ids has pixels with segment '
                         f'id {bad}, which gt_segments does not list')
    if (on_pred & ~p_found).any():
        bad = int(pair_pred[on_pred & ~p_found][0])
        raise ValueError(f'sample {index}: pred_ids has pixels with segment '
                         f'id {bad}, which pred_segments does not list')

    gt_area = np.bincount(gi[on_gt], inter[on_gt], len(g_ids))
    pred_area = np.bincount(pi[on_pred], inter[on_pred], len(p_ids))
    if (pred_area == 0).any():
        bad = int(np.flatnonzero(pred_area == 0)[0])
        raise ValueError(f'sample {index}: predicted segment '
                         f'{int(p_ids[bad])} (category_id '
                         f'{int(p_cat[bad])}) has no pixels in pred_ids')
    void = on_pred & ~on_gt
    pred_void = np.bincount(pi[void], inter[void], len(p_ids))

    # Segment pairs that overlap (both sides labelled).
    both = on_gt & on_pred
    gi, pi, inter = gi[both], pi[both], inter[both]
    same_cat = g_cat[gi] == p_cat[pi]
    union = pred_area[pi] + gt_area[gi] - inter - pred_void[pi]
    iou = inter / union
    match = same_cat & ~g_crowd[gi] & (iou > 0.5)
    gt_matched = np.zeros(len(g_ids), bool)
    pred_matched = np.zeros(len(p_ids), bool)
    gt_matched[gi[match]] = True
    pred_matched[pi[match]] = True

    # An unmatched prediction mostly on VOID + same-category crowd: no FP.
    on_crowd = same_cat & g_crowd[gi]
    pred_crowd = np.bincount(pi[on_crowd], inter[on_crowd], len(p_ids))
    ignored = (pred_void + pred_crowd) / pred_area > 0.5

    stats: PQStats = {}
    _add(stats, g_cat[gi[match]], 0)
    _add(stats, g_cat[gi[match]], 3, iou[match])
    _add(stats, p_cat[~pred_matched & ~ignored], 1)
    _add(stats, g_cat[~gt_matched & ~g_crowd], 2)
    return stats


def merge_pq_stats(stats_list: Iterable[PQStats]) -> PQStats:
    """Sum per-category statistics (of images, batches or ranks).

    Args:
        stats_list (Iterable[PQStats]): Outputs of :func:`sample_pq_stats`.

    Returns:
        PQStats: Element-wise sums.
    """
    total: PQStats = {}
    for stats in stats_list:
        for cat, row in stats.items():
            acc = total.setdefault(int(cat), [0, 0, 0, 0.0])
            for k in range(4):
                acc[k] += row[k]
    return total


def _average(rows: List[Dict[str, float]]) -> Dict[str, float]:
    n = len(rows)
    out = {k: (sum(r[k] for r in rows) / n if n else 0.0)
           for k in ('pq', 'sq', 'rq')}
    out['n'] = n
    return out


def summarize_pq(stats: PQStats,
                 categories: Iterable[Mapping[str, Any]]) -> Dict[str, Any]:
    """PQ, SQ and RQ per category and averaged, from summed statistics.

    Args:
        stats (PQStats): Summed ``{category_id: [tp, fp, fn, iou_sum]}``.
        categories (Iterable[Mapping]): ``{'id', 'isthing'}`` dicts.

    Returns:
        dict: ``{'All' | 'Things' | 'Stuff': {'pq', 'sq', 'rq', 'n'},
        'per_class': {category_id: {'pq', 'sq', 'rq'}}}`` with values in
        [0, 1]. Only categories with ``TP + FP + FN > 0`` appear in
        ``per_class`` and in the averages; ``n`` counts them. A group
        without such a category reports 0.0 with ``n == 0``
        (panopticapi divides by zero there). SQ of a category without TP
        is 0.0, as in panopticapi.
    """
    table = category_table(categories)
    unknown = sorted(set(int(c) for c in stats) - set(table))
    if unknown:
        raise ValueError(f'summarize_pq: statistics for category ids '
                         f'{unknown}, which are not in categories')
    per_class: Dict[int, Dict[str, float]] = {}
    for cat in table:
        tp, fp, fn, iou_sum = stats.get(cat, (0, 0, 0, 0.0))
        denom = tp + 0.5 * fp + 0.5 * fn
        if denom == 0:
            continue
        per_class[cat] = dict(pq=iou_sum / denom,
                              sq=iou_sum / tp if tp else 0.0,
                              rq=tp / denom)
    result: Dict[str, Any] = {}
    for name, want in (('All', None), ('Things', True), ('Stuff', False)):
        result[name] = _average([
            v for c, v in per_class.items() if want is None or
            table[c] == want
        ])
    result['per_class'] = per_class
    return result


def panoptic_quality(
        samples: Iterable[Tuple[np.ndarray, Sequence[Segment], np.ndarray,
                                Sequence[Segment]]],
        categories: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Panoptic quality of a set of images (COCO / panopticapi rules).

    Implements PQ = SQ * RQ of Kirillov et al., "Panoptic Segmentation",
    CVPR 2019 (arXiv 1801.00868), with the COCO evaluation rules listed in
    this module's docstring (VOID excluded from the union, crowd regions
    ignored, averages over the categories that occur).

    Args:
        samples (Iterable[tuple]): ``(gt_ids, gt_segments, pred_ids,
            pred_segments)`` per image: (H, W) integer id maps (0 = VOID)
            and lists of ``{'id', 'category_id'}`` dicts; ground-truth
            segments may carry ``'iscrowd'`` (missing = 0).
        categories (Sequence[Mapping]): ``{'id', 'isthing'}`` dicts.

    Returns:
        dict: See :func:`summarize_pq`.

    Raises:
        ValueError: Bad input; the message names the sample index and the
            segment.
    """
    categories = list(categories)
    table = category_table(categories)
    stats = merge_pq_stats(
        sample_pq_stats(gt, gt_segs, pred, pred_segs, table, index)
        for index, (gt, gt_segs, pred, pred_segs) in enumerate(samples))
    return summarize_pq(stats, categories)
