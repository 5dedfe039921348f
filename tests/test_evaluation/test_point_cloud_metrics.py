"""Tests of the DTU point-cloud metrics (mmext.evaluation.point_cloud).

Closed-form cases (a cloud against itself, a planar grid shifted along its
normal, far outliers), the thinning's two guarantees, and an independent
brute-force reference on small random clouds: the greedy thinning as a
plain loop over numpy pairwise distances in the same seeded order, and
nearest distances from the full distance matrix.
"""
import numpy as np
import pytest

from mmext.evaluation import (nearest_distances, point_cloud_metrics,
                              thin_points)


def _grid(step=0.07, size=40):
    """A planar grid in z = 0 (no lattice distance equals 0.2)."""
    x, y = np.meshgrid(np.arange(size) * step, np.arange(size) * step)
    return np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)


def _pairwise(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :])**2).sum(-1))


def _brute_thin(points, spacing, seed):
    """DTU's reducePts_haa as a plain loop over a distance matrix."""
    order = np.random.default_rng(seed).permutation(len(points))
    near = _pairwise(points, points) <= spacing
    keep = np.ones(len(points), bool)
    for i in order:
        if keep[i]:
            keep[near[i]] = False
            keep[i] = True
    return np.flatnonzero(keep)


def _brute_metrics(pred, gt, spacing, cut, seed, pred_mask=None,
                   gt_mask=None):
    pred_mask = np.ones(len(pred), bool) if pred_mask is None else pred_mask
    gt_mask = np.ones(len(gt), bool) if gt_mask is None else gt_mask
    kp, kg = _brute_thin(pred, spacing, seed), _brute_thin(gt, spacing, seed)
    pred, pred_mask, gt, gt_mask = pred[kp], pred_mask[kp], gt[kg], \
        gt_mask[kg]
    dist = _pairwise(pred, gt)
    acc = dist.min(1)[pred_mask]
    comp = dist.min(0)[gt_mask]
    acc, comp = acc[acc < cut], comp[comp < cut]
    return acc.mean(), comp.mean(), len(acc), len(comp)


def _clustered(rng, n, scale=1.0):
    """Points in a few tight clusters, so thinning removes many."""
    centres = rng.uniform(0, 3 * scale, (5, 3))
    return centres[rng.integers(0, 5, n)] + rng.normal(0, 0.3 * scale,
                                                       (n, 3))


def test_cloud_against_itself_is_zero():
    points = _clustered(np.random.default_rng(0), 2000)
    for thin_gt in (True, False):
        out = point_cloud_metrics(points, points.copy(), thin_gt=thin_gt)
        assert out['completeness'] == 0 if thin_gt else \
            out['completeness'] > 0  # unthinned GT: the dropped points
        assert out['accuracy'] == 0
    assert out['num_pred'] < len(points)  # thinning did act


@pytest.mark.parametrize('shift', [0.05, 0.5, 3.0])
@pytest.mark.parametrize('spacing', [0.2, 0.0])
def test_shift_along_the_normal_gives_its_length(shift, spacing):
    gt = _grid()
    pred = gt + [0.0, 0.0, shift]
    out = point_cloud_metrics(pred, gt, min_spacing=spacing)
    assert out['accuracy'] == pytest.approx(shift, rel=1e-9)
    assert out['completeness'] == pytest.approx(shift, rel=1e-9)
    assert out['overall'] == pytest.approx(shift, rel=1e-9)
    if spacing:
        assert out['num_pred'] == out['num_gt'] < len(gt)
    else:
        assert out['num_pred'] == out['num_gt'] == len(gt)


def test_outlier_cut_drops_far_points():
    # No thinning: extra points would change the seeded thinning order.
    gt = _grid()
    pred = gt + [0.0, 0.0, 0.5]
    base = point_cloud_metrics(pred, gt, min_spacing=0)
    assert base['accuracy'] == pytest.approx(0.5)
    far = np.array([[0.0, 0.0, 25.0], [100.0, 0.0, 0.0], [0.0, -30, 5]])
    out = point_cloud_metrics(np.concatenate([pred, far]), gt,
                              min_spacing=0)
    assert out['accuracy'] == pytest.approx(base['accuracy'])
    assert out['completeness'] == pytest.approx(base['completeness'])
    assert out['num_pred'] == base['num_pred'] + 3
    assert out['num_pred_used'] == base['num_pred_used']
    # Without the cut they would count.
    loose = point_cloud_metrics(np.concatenate([pred, far]), gt,
                                min_spacing=0, outlier_cut=1000.0)
    assert loose['accuracy'] > base['accuracy'] + 0.01
    # A point below the cut counts (DTU keeps distances < 20).
    near = point_cloud_metrics(
        np.concatenate([pred, [[0.0, 0.0, 15.0]]]), gt, min_spacing=0)
    assert near['num_pred_used'] == base['num_pred_used'] + 1
    assert near['accuracy'] > base['accuracy']
    # Everything beyond the cut: the mean over nothing is NaN.
    none = point_cloud_metrics(gt + [0.0, 0.0, 30.0], gt)
    assert np.isnan(none['accuracy']) and none['num_pred_used'] == 0


@pytest.mark.parametrize('seed', [0, 1])
def test_thinning_guarantees(seed):
    points = _clustered(np.random.default_rng(seed), 3000, scale=0.5)
    spacing = 0.1
    kept = thin_points(points, spacing, seed=seed)
    assert 0 < len(kept) < len(points)
    assert np.all(np.diff(kept) > 0)
    dist = _pairwise(points[kept], points[kept])
    np.fill_diagonal(dist, np.inf)
    assert dist.min() > spacing
    dropped = np.setdiff1d(np.arange(len(points)), kept)
    assert _pairwise(points[dropped], points[kept]).min(1).max() <= spacing


def test_thinning_equals_the_brute_force_greedy():
    rng = np.random.default_rng(3)
    points = _clustered(rng, 600, scale=0.5)
    points = np.concatenate([points, points[:20]])  # exact duplicates
    for seed in (0, 7):
        np.testing.assert_array_equal(
            thin_points(points, 0.15, seed=seed),
            _brute_thin(points, 0.15, seed))
    assert not np.array_equal(thin_points(points, 0.15, seed=0),
                              thin_points(points, 0.15, seed=7))


def test_thinning_in_several_windows(monkeypatch):
    import mmext.evaluation.point_cloud as module
    monkeypatch.setattr(module, '_CHUNK', 7)
    points = _clustered(np.random.default_rng(4), 500, scale=0.5)
    np.testing.assert_array_equal(thin_points(points, 0.1, seed=2),
                                  _brute_thin(points, 0.1, 2))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_metrics_equal_the_brute_force_reference(seed):
    rng = np.random.default_rng(seed)
    pred = _clustered(rng, 400, scale=10)
    gt = _clustered(rng, 300, scale=10)
    spacing, cut = 1.0, 8.0
    out = point_cloud_metrics(pred, gt, min_spacing=spacing,
                              outlier_cut=cut, seed=seed)
    acc, comp, n_acc, n_comp = _brute_metrics(pred, gt, spacing, cut, seed)
    assert 0 < n_acc < out['num_pred'] or 0 < n_comp < out['num_gt']
    assert out['accuracy'] == pytest.approx(acc, rel=1e-12)
    assert out['completeness'] == pytest.approx(comp, rel=1e-12)
    assert out['overall'] == pytest.approx((acc + comp) / 2, rel=1e-12)
    assert (out['num_pred_used'], out['num_gt_used']) == (n_acc, n_comp)


def test_masks_choose_whose_distances_count():
    rng = np.random.default_rng(5)
    pred = _clustered(rng, 300, scale=10)
    gt = _clustered(rng, 300, scale=10)
    pred_mask = rng.random(len(pred)) < 0.5
    gt_mask = rng.random(len(gt)) < 0.5
    out = point_cloud_metrics(pred, gt, min_spacing=1.0, outlier_cut=8.0,
                              pred_mask=pred_mask, gt_mask=gt_mask)
    acc, comp, n_acc, n_comp = _brute_metrics(pred, gt, 1.0, 8.0, 0,
                                              pred_mask, gt_mask)
    assert out['accuracy'] == pytest.approx(acc, rel=1e-12)
    assert out['completeness'] == pytest.approx(comp, rel=1e-12)
    # The GT mask does not restrict accuracy's neighbour search.
    plain = point_cloud_metrics(pred, gt, min_spacing=1.0, outlier_cut=8.0,
                                pred_mask=pred_mask)
    assert plain['accuracy'] == out['accuracy']
    assert plain['completeness'] != out['completeness']


def test_nearest_distances():
    queries = np.array([[0.0, 0, 0], [3.0, 4, 0]])
    targets = np.array([[0.0, 0, 1], [0.0, 0, 0.5]])
    np.testing.assert_allclose(nearest_distances(queries, targets),
                               [0.5, np.sqrt(9 + 16 + 0.25)])
    capped = nearest_distances(queries, targets, max_distance=5.0)
    assert capped[0] == 0.5 and np.isinf(capped[1])


def test_bad_input_names_the_argument():
    points = _grid(size=5)
    with pytest.raises(ValueError, match='pred_points.*empty'):
        point_cloud_metrics(np.zeros((0, 3)), points)
    with pytest.raises(ValueError, match='gt_points.*empty'):
        point_cloud_metrics(points, np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r'pred_points.*\[N, 3\]'):
        point_cloud_metrics(points[:, :2], points)
    with pytest.raises(ValueError, match='gt_points.*NaN'):
        point_cloud_metrics(points, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match='pred_mask'):
        point_cloud_metrics(points, points, pred_mask=np.ones(3, bool))
    with pytest.raises(ValueError, match='gt_mask'):
        point_cloud_metrics(points, points, gt_mask=np.ones(len(points)))
    with pytest.raises(ValueError, match='outlier_cut'):
        point_cloud_metrics(points, points, outlier_cut=0)
    with pytest.raises(ValueError, match='min_spacing'):
        thin_points(points, 0)
