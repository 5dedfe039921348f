"""Per-box class distributions (background last) against hand-written
softmax and sigmoid maths (Elezi et al., CVPR 2022, arXiv 2106.11921)."""
import math

import pytest
import torch

from mmext.active_learning import class_distribution


def _sigmoid(value):
    return 1 / (1 + math.exp(-value))


def test_softmax_head_is_a_plain_softmax():
    logits = torch.tensor([[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5]])
    ours = class_distribution(logits, sigmoid=False)
    for row, got in zip(logits.tolist(), ours.tolist()):
        exps = [math.exp(v) for v in row]
        expected = [e / sum(exps) for e in exps]
        assert got == pytest.approx(expected, rel=1e-6)


def test_sigmoid_head_appends_the_no_class_fires_background():
    logits = torch.tensor([[1.0, -0.5, 2.0], [-3.0, -2.0, 0.5]])
    ours = class_distribution(logits, sigmoid=True)
    assert ours.shape == (2, 4)
    for row, got in zip(logits.tolist(), ours.tolist()):
        fg = [_sigmoid(v) for v in row]
        bg = 1.0
        for p in fg:
            bg *= 1 - p
        total = sum(fg) + bg
        expected = [p / total for p in fg] + [bg / total]
        assert got == pytest.approx(expected, rel=1e-6)


def test_keeps_leading_dims_and_stays_finite_for_large_logits():
    logits = torch.tensor([[[60.0, -60.0], [-60.0, -60.0]]])
    ours = class_distribution(logits, sigmoid=True)
    assert ours.shape == (1, 2, 3)
    assert torch.isfinite(ours).all()
    assert torch.allclose(ours.sum(-1), torch.ones(1, 2))
    # No class fires: (almost) all the mass is background.
    assert ours[0, 1, -1].item() == pytest.approx(1.0, abs=1e-6)
    assert ours[0, 0, 0].item() == pytest.approx(1.0, abs=1e-6)


def test_softmax_head_needs_a_background_output():
    with pytest.raises(ValueError, match='C \\+ 1'):
        class_distribution(torch.zeros(3, 1), sigmoid=False)
