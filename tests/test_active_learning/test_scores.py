"""Acquisition scores of AL-SSL (Elezi et al., CVPR 2022, arXiv
2106.11921) against loops over the formulas with the math module."""
import math

import pytest
import torch

from mmext.active_learning import (box_entropy, entropy_scores,
                                   image_score, inconsistency_scores,
                                   symmetric_kl)


def _entropy(row):
    return -sum(p * math.log(p) for p in row if p > 0) / math.log(len(row))


def _kl(p, q):
    return sum(a * (math.log(max(a, 1e-12)) - math.log(max(b, 1e-12)))
               for a, b in zip(p, q))


def _sym_kl(p, q):
    return 0.5 * (_kl(p, q) + _kl(q, p))


def _image(values, scores, thr=0.5):
    kept = [v for v, s in zip(values, scores) if s >= thr]
    return max(kept) if kept else 0.0


PROBS = torch.tensor([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0],
                      [1 / 3, 1 / 3, 1 / 3]])


def test_box_entropy_matches_a_loop_with_zero_log_zero():
    ours = box_entropy(PROBS)
    expected = [_entropy(row) for row in PROBS.tolist()]
    assert ours.tolist() == pytest.approx(expected, abs=1e-6)
    # A one-hot box is certain, a uniform one maximally uncertain.
    assert ours[2].item() == 0 and ours[3].item() == pytest.approx(1.0)


def test_symmetric_kl_matches_math_log_sums():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.5, 0.5, 0.0]])
    q = torch.tensor([[0.1, 0.6, 0.3], [0.3, 0.3, 0.4], [0.25, 0.25, 0.5]])
    ours = symmetric_kl(p, q)
    expected = [_sym_kl(a, b) for a, b in zip(p.tolist(), q.tolist())]
    assert ours.tolist() == pytest.approx(expected, rel=1e-5)
    assert ours[1].item() == 0
    assert symmetric_kl(q, p).tolist() == pytest.approx(ours.tolist())
    with pytest.raises(ValueError, match='same shape'):
        symmetric_kl(p, q[:2])


def test_image_score_is_the_max_over_confident_boxes():
    values = torch.tensor([0.3, 0.9, 0.6, 0.2])
    scores = torch.tensor([0.5, 0.49, 0.8, 0.1])
    # 0.9 belongs to a box below the threshold; 0.5 itself counts.
    assert image_score(values, scores).item() == pytest.approx(0.6)
    assert image_score(values, scores, score_thr=0.4).item() == \
        pytest.approx(0.9)


def test_image_score_is_zero_without_a_confident_box():
    values = torch.tensor([0.3, 0.9])
    assert image_score(values, torch.tensor([0.2, 0.4])).item() == 0
    assert image_score(torch.zeros(0), torch.zeros(0)).item() == 0


# Three images: two confident boxes; a confident box and an unconfident
# one of higher value; no confident box.
IMAGE_PROBS = [
    torch.tensor([[0.8, 0.1, 0.1], [0.4, 0.4, 0.2]]),
    torch.tensor([[0.9, 0.05, 0.05], [0.34, 0.33, 0.33]]),
    torch.tensor([[0.6, 0.3, 0.1]]),
]
IMAGE_FLIPPED = [
    torch.tensor([[0.6, 0.3, 0.1], [0.4, 0.4, 0.2]]),
    torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]),
    torch.tensor([[0.1, 0.1, 0.8]]),
]
DET_SCORES = [
    torch.tensor([0.8, 0.6]),
    torch.tensor([0.9, 0.3]),
    torch.tensor([0.45]),
]


def test_entropy_scores_on_three_images():
    ours = entropy_scores(IMAGE_PROBS, DET_SCORES)
    expected = [
        _image([_entropy(r) for r in p.tolist()], s.tolist())
        for p, s in zip(IMAGE_PROBS, DET_SCORES)
    ]
    assert ours.shape == (3, )
    assert ours.tolist() == pytest.approx(expected, rel=1e-5)
    assert ours[2].item() == 0


def test_inconsistency_scores_on_three_images():
    ours = inconsistency_scores(IMAGE_PROBS, IMAGE_FLIPPED, DET_SCORES)
    expected = [
        _image([_sym_kl(a, b) for a, b in zip(p.tolist(), f.tolist())],
               s.tolist())
        for p, f, s in zip(IMAGE_PROBS, IMAGE_FLIPPED, DET_SCORES)
    ]
    assert ours.tolist() == pytest.approx(expected, rel=1e-5)
    # Image 1: the unconfident box is the more inconsistent one.
    assert ours[1].item() == pytest.approx(
        _sym_kl([0.9, 0.05, 0.05], [0.5, 0.3, 0.2]), rel=1e-5)
    assert ours[2].item() == 0


def test_scores_need_one_entry_per_image():
    with pytest.raises(ValueError, match='one entry per image'):
        entropy_scores(IMAGE_PROBS, DET_SCORES[:2])
    with pytest.raises(ValueError, match='one entry per image'):
        inconsistency_scores(IMAGE_PROBS, IMAGE_FLIPPED[:1], DET_SCORES)
    assert entropy_scores([], []).shape == (0, )
