"""Tests for mmext.evaluation.panoptic_quality (panopticapi's PQ rules).

Every hand-made case uses 4x6 id maps and the categories below; the
expected numbers are worked out in the comments.
"""
import numpy as np
import pytest

from mmext.evaluation import (merge_pq_stats, panoptic_quality,
                              sample_pq_stats, summarize_pq)

# things: 1, 2; stuff: 3, 4 (4 never occurs in the hand-made cases)
CATS = [dict(id=1, isthing=1), dict(id=2, isthing=1),
        dict(id=3, isthing=0), dict(id=4, isthing=0)]


def seg(seg_id, cat, crowd=None):
    out = dict(id=seg_id, category_id=cat)
    if crowd is not None:
        out['iscrowd'] = crowd
    return out


def stuff_bottom():
    """A 4x6 map whose rows 2-3 are stuff segment 3 (12 pixels)."""
    ids = np.zeros((4, 6), np.int64)
    ids[2:] = 3
    return ids


def pq_of(*samples):
    return panoptic_quality(list(samples), CATS)


def test_perfect_match_is_one():
    gt = np.array([[1, 1, 1, 2, 2, 2],
                   [1, 1, 1, 2, 2, 2],
                   [3, 3, 3, 3, 3, 3],
                   [3, 3, 3, 3, 3, 3]])
    segs = [seg(1, 1), seg(2, 2), seg(3, 3)]
    # predictions may use other ids: only the segments matter
    pred = gt * 10
    pred_segs = [seg(10, 1), seg(20, 2), seg(30, 3)]
    out = pq_of((gt, segs, pred, pred_segs))
    assert out['All'] == dict(pq=1.0, sq=1.0, rq=1.0, n=3)
    assert out['Things'] == dict(pq=1.0, sq=1.0, rq=1.0, n=2)
    assert out['Stuff'] == dict(pq=1.0, sq=1.0, rq=1.0, n=1)
    assert set(out['per_class']) == {1, 2, 3}  # 4 never occurs


def _half_case(k):
    """GT: rows 0-1 thing 1 (12 px), rows 2-3 stuff 3 (12 px).

    Prediction: thing 1 on the first k pixels of rows 0-1 (row-major), stuff
    3 everywhere else.
    """
    gt = stuff_bottom()
    gt[:2] = 1
    pred = np.full((4, 6), 3, np.int64)
    pred.reshape(-1)[:k] = 1
    return gt, [seg(1, 1), seg(3, 3)], pred, [seg(1, 1), seg(3, 3)]


def test_iou_of_exactly_half_is_not_a_match():
    # k = 6: thing IoU = 6 / (6 + 12 - 6) = 0.5 -> no match: FP 1, FN 1,
    # PQ_1 = 0. Stuff: pred area 18, gt 12, inter 12: IoU 12/18 = 2/3, TP.
    out = pq_of(_half_case(6))
    assert out['per_class'][1] == dict(pq=0.0, sq=0.0, rq=0.0)
    assert out['per_class'][3] == pytest.approx(
        dict(pq=2 / 3, sq=2 / 3, rq=1.0))
    assert out['All']['pq'] == pytest.approx(1 / 3)
    assert out['All']['n'] == 2


def test_iou_just_above_half_matches_and_things_stuff_split():
    # k = 7: thing IoU = 7 / 12 > 0.5 -> TP; stuff: pred 17 px, gt 12,
    # inter 12: IoU 12/17.
    out = pq_of(_half_case(7))
    assert out['per_class'][1] == pytest.approx(
        dict(pq=7 / 12, sq=7 / 12, rq=1.0))
    assert out['Things'] == pytest.approx(
        dict(pq=7 / 12, sq=7 / 12, rq=1.0, n=1))
    assert out['Stuff'] == pytest.approx(
        dict(pq=12 / 17, sq=12 / 17, rq=1.0, n=1))
    assert out['All'] == pytest.approx(
        dict(pq=(7 / 12 + 12 / 17) / 2, sq=(7 / 12 + 12 / 17) / 2, rq=1.0,
             n=2))


def test_void_pixels_are_left_out_of_the_union():
    # GT rows 0-1: VOID in cols 0-2, thing 1 in cols 3-5 (6 px).
    # Prediction 1 covers rows 0-1 (12 px, 6 on VOID).
    # Plain IoU = 6 / 12 = 0.5 (no match); with the VOID rule
    # union = 12 + 6 - 6 - 6 = 6, IoU = 1 -> TP.
    gt = stuff_bottom()
    gt[:2, 3:] = 1
    pred = stuff_bottom()
    pred[:2] = 1
    out = pq_of((gt, [seg(1, 1), seg(3, 3)], pred, [seg(1, 1), seg(3, 3)]))
    assert out['per_class'][1] == dict(pq=1.0, sq=1.0, rq=1.0)
    assert out['All']['pq'] == 1.0


def test_crowd_is_not_fn_and_prediction_on_same_class_crowd_not_fp():
    # GT rows 0-1: crowd 1 (class 1) cols 0-2, thing 2 (class 1) cols 3-5.
    # Pred 5 (class 1): the crowd's 6 px + pixel (0, 3) -> 7 px, 6/7 on
    #   same-class crowd > 0.5 -> not a FP (IoU with GT 2 is 1/12).
    # Pred 6 (class 1): the other 5 px of GT 2 -> IoU 5/6, TP.
    # Crowd 1 is never a FN. Class 1: TP 1, FP 0, FN 0 -> PQ 5/6.
    gt = stuff_bottom()
    gt[:2, :3] = 1
    gt[:2, 3:] = 2
    pred = stuff_bottom()
    pred[:2, :3] = 5
    pred[:2, 3:] = 6
    pred[0, 3] = 5
    out = pq_of((gt, [seg(1, 1, crowd=1), seg(2, 1, crowd=0), seg(3, 3)],
                 pred, [seg(5, 1), seg(6, 1), seg(3, 3)]))
    assert out['per_class'][1] == pytest.approx(
        dict(pq=5 / 6, sq=5 / 6, rq=1.0))
    assert out['All']['pq'] == pytest.approx((5 / 6 + 1) / 2)


def test_crowd_segment_is_never_matched():
    # Pred 5 equals crowd 1 exactly (IoU 1) but is not a TP; being all on
    # same-class crowd, it is not a FP either: class 1 does not occur.
    gt = stuff_bottom()
    gt[:2] = 1
    pred = stuff_bottom()
    pred[:2] = 5
    out = pq_of((gt, [seg(1, 1, crowd=1), seg(3, 3)], pred,
                 [seg(5, 1), seg(3, 3)]))
    assert 1 not in out['per_class']
    assert out['All'] == dict(pq=1.0, sq=1.0, rq=1.0, n=1)


def test_prediction_on_another_class_crowd_is_fp():
    # GT rows 0-1 crowd of class 1; pred 7 covers them with class 2: the
    # crowd is not its class, so it is a FP: class 2 PQ 0, All = (0+1)/2.
    gt = stuff_bottom()
    gt[:2] = 1
    pred = stuff_bottom()
    pred[:2] = 7
    gt_segs = [seg(1, 1, crowd=1), seg(3, 3)]
    out = pq_of((gt, gt_segs, pred, [seg(7, 2), seg(3, 3)]))
    assert out['per_class'][2] == dict(pq=0.0, sq=0.0, rq=0.0)
    assert 1 not in out['per_class']
    assert out['All'] == dict(pq=0.5, sq=0.5, rq=0.5, n=2)
    # the same prediction with the crowd's class is ignored
    out = pq_of((gt, gt_segs, pred, [seg(7, 1), seg(3, 3)]))
    assert out['All'] == dict(pq=1.0, sq=1.0, rq=1.0, n=1)


@pytest.mark.parametrize('on_void, is_fp', [(6, False), (2, True)])
def test_prediction_mostly_on_void_is_not_fp(on_void, is_fp):
    # GT rows 0-1 VOID, rows 2-3 stuff 3. Pred 1 (class 2): `on_void`
    # pixels of row 0 plus (2, 0), (2, 1) on stuff.
    #   6 on VOID of 8 = 0.75 > 0.5: ignored; 2 of 4 = 0.5: a FP.
    # Pred 3: the other 10 px of rows 2-3: IoU 10/12 (TP).
    gt = stuff_bottom()
    pred = stuff_bottom()
    pred[0, :on_void] = 1
    pred[2, :2] = 1
    out = pq_of((gt, [seg(3, 3)], pred, [seg(1, 2), seg(3, 3)]))
    assert out['per_class'][3] == pytest.approx(
        dict(pq=5 / 6, sq=5 / 6, rq=1.0))
    if is_fp:
        assert out['per_class'][2] == dict(pq=0.0, sq=0.0, rq=0.0)
        assert out['All']['pq'] == pytest.approx(5 / 12)
        assert out['All']['n'] == 2
    else:
        assert 2 not in out['per_class']
        assert out['All']['pq'] == pytest.approx(5 / 6)
        assert out['All']['n'] == 1


def test_empty_classes_are_left_out_and_empty_group_is_zero():
    # Only stuff 3 occurs: Things has no category -> 0.0 with n = 0;
    # All averages class 3 alone (not 3 and 4, not with zeros of 1, 2).
    # GT: stuff 3 everywhere (24 px); prediction: VOID on rows 0-1, stuff
    # 3 on rows 2-3 (12 px). The VOID rule is about the prediction's pixels
    # on GT VOID, not GT pixels predicted VOID: union = 12 + 24 - 12 - 0,
    # IoU = 12 / 24 = 0.5 -> no match: class 3 FP 1, FN 1, PQ 0.
    gt = np.full((4, 6), 3)
    pred = stuff_bottom()
    out = pq_of((gt, [seg(3, 3)], pred, [seg(3, 3)]))
    assert out['per_class'] == {3: dict(pq=0.0, sq=0.0, rq=0.0)}
    assert out['Things'] == dict(pq=0.0, sq=0.0, rq=0.0, n=0)
    assert out['All']['n'] == 1 and out['Stuff']['n'] == 1


def test_zero_area_ground_truth_segment_is_fn():
    # GT 9 (class 2) is listed without pixels: a FN for class 2 (as
    # panopticapi counts it); class 2 PQ 0 joins the average.
    gt = np.full((4, 6), 3)
    segs = [seg(3, 3), seg(9, 2)]
    out = pq_of((gt, segs, gt, [seg(3, 3)]))
    assert out['per_class'][2] == dict(pq=0.0, sq=0.0, rq=0.0)
    assert out['All'] == dict(pq=0.5, sq=0.5, rq=0.5, n=2)
    # a listed crowd segment without pixels is nothing
    segs = [seg(3, 3), seg(9, 2, crowd=1)]
    assert pq_of((gt, segs, gt, [seg(3, 3)]))['All']['n'] == 1


def test_several_samples_accumulate_counts_not_scores():
    # k = 6: class 1 FP 1 FN 1; class 3 TP IoU 2/3.
    # k = 7: class 1 TP IoU 7/12; class 3 TP IoU 12/17.
    # Class 1: PQ = (7/12) / (1 + 0.5 + 0.5) = 7/24, SQ 7/12, RQ 1/2.
    # Class 3: SQ = PQ = (2/3 + 12/17) / 2, RQ 1.
    out = pq_of(_half_case(6), _half_case(7))
    assert out['per_class'][1] == pytest.approx(
        dict(pq=7 / 24, sq=7 / 12, rq=0.5))
    pq3 = (2 / 3 + 12 / 17) / 2
    assert out['per_class'][3] == pytest.approx(dict(pq=pq3, sq=pq3, rq=1))
    assert out['All']['pq'] == pytest.approx((7 / 24 + pq3) / 2)
    # the three steps give the same
    table = {c['id']: bool(c['isthing']) for c in CATS}
    stats = merge_pq_stats(
        sample_pq_stats(*s, table, index=i)
        for i, s in enumerate([_half_case(6), _half_case(7)]))
    assert stats[1] == [1, 1, 1, pytest.approx(7 / 12)]
    assert summarize_pq(stats, CATS) == out


def _ok_sample():
    gt = stuff_bottom()
    gt[:2] = 1
    return gt, [seg(1, 1), seg(3, 3)], gt.copy(), [seg(1, 1), seg(3, 3)]


@pytest.mark.parametrize('corrupt, message', [
    (lambda s: s[2].__setitem__((0, 0), 8),
     'sample 1: pred_ids has pixels with segment id 8, which pred_segments'),
    (lambda s: s[3].append(seg(5, 2)),
     r'sample 1: predicted segment 5 \(category_id 2\) has no pixels'),
    (lambda s: s[3].__setitem__(0, seg(1, 99)),
     'sample 1: predicted segment 1 has category_id 99, which is not in'),
    (lambda s: s[1].__setitem__(0, seg(1, 99)),
     'sample 1: ground-truth segment 1 has category_id 99'),
    (lambda s: s[0].__setitem__((0, 0), 4),
     'sample 1: gt_ids has pixels with segment id 4, which gt_segments'),
    (lambda s: s[3].append(seg(1, 1)),
     'sample 1: predicted segment id 1 is listed twice'),
    (lambda s: s[3].append(seg(0, 1)),
     r'sample 1: predicted segment id 0 must be positive \(0 is VOID\)'),
    (lambda s: s[3].append(dict(id=4)),
     "sample 1: predicted segment .* needs 'id' and 'category_id'"),
])
def test_bad_input_names_sample_and_segment(corrupt, message):
    bad = _ok_sample()
    corrupt(bad)
    with pytest.raises(ValueError, match=message):
        pq_of(_ok_sample(), bad)


def test_bad_maps_and_categories():
    gt, gt_segs, pred, pred_segs = _ok_sample()
    with pytest.raises(ValueError, match='sample 0: gt_ids .* and pred_ids'
                       ' .* differ in shape'):
        pq_of((gt, gt_segs, pred[:3], pred_segs))
    with pytest.raises(ValueError, match='2-D integer array'):
        pq_of((gt.astype(float), gt_segs, pred, pred_segs))
    with pytest.raises(ValueError, match='negative ids'):
        pq_of((gt, gt_segs, -pred, pred_segs))
    with pytest.raises(ValueError, match="no 'isthing'"):
        panoptic_quality([_ok_sample()], [dict(id=1)])
    with pytest.raises(ValueError, match='category id 1 is listed twice'):
        panoptic_quality([_ok_sample()], CATS + [dict(id=1, isthing=0)])


# ---------------------------------------------------------------------------
# Brute-force reference: per-pixel loops, written from the rules alone.
# ---------------------------------------------------------------------------

RAND_CATS = [dict(id=c, isthing=int(c <= 4)) for c in range(1, 8)]


def _count(h, w, cond):
    return sum(1 for y in range(h) for x in range(w) if cond(y, x))


def reference_pq(samples, categories):
    tp, fp, fn, iou_sum = {}, {}, {}, {}
    for c in categories:
        tp[c['id']] = fp[c['id']] = fn[c['id']] = 0
        iou_sum[c['id']] = 0.0
    for gt, gt_segs, pred, pred_segs in samples:
        h, w = gt.shape
        g = gt.tolist()
        p = pred.tolist()
        gt_matched, pred_matched = set(), set()
        for gs in gt_segs:
            if gs.get('iscrowd', 0) == 1:
                continue
            for ps in pred_segs:
                if ps['category_id'] != gs['category_id']:
                    continue
                gi, pi = gs['id'], ps['id']
                inter = _count(h, w, lambda y, x: g[y][x] == gi and
                               p[y][x] == pi)
                if inter == 0:
                    continue
                p_area = _count(h, w, lambda y, x: p[y][x] == pi)
                g_area = _count(h, w, lambda y, x: g[y][x] == gi)
                p_void = _count(h, w, lambda y, x: g[y][x] == 0 and
                                p[y][x] == pi)
                iou = inter / (p_area + g_area - inter - p_void)
                if iou > 0.5:
                    tp[gs['category_id']] += 1
                    iou_sum[gs['category_id']] += iou
                    gt_matched.add(gi)
                    pred_matched.add(pi)
        for gs in gt_segs:
            if gs['id'] not in gt_matched and gs.get('iscrowd', 0) != 1:
                fn[gs['category_id']] += 1
        crowd_ids = {}
        for gs in gt_segs:
            if gs.get('iscrowd', 0) == 1:
                crowd_ids.setdefault(gs['category_id'], set()).add(gs['id'])
        for ps in pred_segs:
            if ps['id'] in pred_matched:
                continue
            pi, crowd = ps['id'], crowd_ids.get(ps['category_id'], set())
            area = _count(h, w, lambda y, x: p[y][x] == pi)
            ignored = _count(h, w, lambda y, x: p[y][x] == pi and
                             (g[y][x] == 0 or g[y][x] in crowd))
            if ignored / area <= 0.5:
                fp[ps['category_id']] += 1
    per_class = {}
    for c in categories:
        k = c['id']
        denom = tp[k] + 0.5 * fp[k] + 0.5 * fn[k]
        if denom > 0:
            per_class[k] = dict(pq=iou_sum[k] / denom,
                                sq=iou_sum[k] / tp[k] if tp[k] else 0.0,
                                rq=tp[k] / denom)
    out = {}
    for name, want in (('All', None), ('Things', 1), ('Stuff', 0)):
        keys = [c['id'] for c in categories if c['id'] in per_class and
                (want is None or c['isthing'] == want)]
        out[name] = {m: (sum(per_class[k][m] for k in keys) / len(keys)
                         if keys else 0.0) for m in ('pq', 'sq', 'rq')}
        out[name]['n'] = len(keys)
    out['per_class'] = per_class
    return out


def _random_sample(rng):
    h, w = (int(v) for v in rng.integers(5, 11, size=2))
    n = int(rng.integers(1, 7))
    cells = rng.integers(0, n + 1, size=(3, 3))  # 0 = VOID
    gt = cells[(np.arange(h) * 3) // h][:, (np.arange(w) * 3) // w]
    gt_segs = []
    for k in range(1, n + 2):  # id n + 1 may be listed without pixels
        if k == n + 1 and rng.random() < 0.7:
            break
        cat = int(rng.integers(1, 8))
        crowd = int(cat <= 4 and rng.random() < 0.25)
        gt_segs.append(dict(id=k, category_id=cat, iscrowd=crowd))
    gt_cat = {s['id']: s['category_id'] for s in gt_segs}
    shift = tuple(int(v) for v in rng.integers(-1, 2, size=2))
    pred = np.roll(gt, shift, axis=(0, 1)) if rng.random() < 0.3 \
        else gt.copy()
    noise = rng.random((h, w)) < 0.12
    pred[noise] = rng.integers(0, n + 3, size=int(noise.sum()))
    pred = pred * 3 + 5 * (pred > 0)  # other ids than the ground truth's
    pred_segs = []
    for pid in np.unique(pred[pred > 0]).tolist():
        src = (pid - 5) // 3
        cat = gt_cat.get(src) if rng.random() < 0.9 else None
        cat = cat or int(rng.integers(1, 8))
        pred_segs.append(dict(id=pid, category_id=cat))
    return gt.astype(np.int64), gt_segs, pred.astype(np.int64), pred_segs


def test_matches_brute_force_reference_on_random_samples():
    rng = np.random.default_rng(0)
    samples = [_random_sample(rng) for _ in range(20)]
    expected = reference_pq(samples, RAND_CATS)
    got = panoptic_quality(samples, RAND_CATS)
    assert got['per_class'].keys() == expected['per_class'].keys()
    # the samples exercise every rule
    assert any(s.get('iscrowd') for smp in samples for s in smp[1])
    assert all(expected[g]['n'] > 0 for g in ('Things', 'Stuff'))
    for key in ('All', 'Things', 'Stuff'):
        assert got[key]['n'] == expected[key]['n']
        for m in ('pq', 'sq', 'rq'):
            assert abs(got[key][m] - expected[key][m]) < 1e-9, (key, m)
    for cat, values in expected['per_class'].items():
        for m in ('pq', 'sq', 'rq'):
            assert abs(got['per_class'][cat][m] - values[m]) < 1e-9
    # neither perfect nor empty
    assert 0.1 < got['All']['pq'] < 0.95
