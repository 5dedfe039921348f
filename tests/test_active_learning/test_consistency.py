"""CSD flip consistency (Jeong et al., NeurIPS 2019) as AL-SSL trains it
(Elezi et al., CVPR 2022, arXiv 2106.11921), against hand-written sums."""
import math

import pytest
import torch

from mmext.active_learning import csd_consistency, csd_ramp


def _kl(p, q):
    return sum(a * (math.log(a) - math.log(b)) for a, b in zip(p, q))


# Priors 0, 1 and 3 are foreground-dominant in the original view; prior 2
# is background-dominant (its flipped view is not, which does not matter);
# prior 4 ties (max foreground = background) and is dropped too.
PROBS = torch.tensor([[0.6, 0.1, 0.3], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7],
                      [0.45, 0.45, 0.1], [0.4, 0.2, 0.4]])
FLIPPED = torch.tensor([[0.5, 0.2, 0.3], [0.3, 0.3, 0.4], [0.8, 0.1, 0.1],
                        [0.4, 0.5, 0.1], [0.1, 0.1, 0.8]])
KEPT = [0, 1, 3]
DELTAS = torch.tensor([[0.1, -0.2, 0.3, 0.05], [-0.4, 0.2, -0.1, 0.2],
                       [0.3, 0.3, 0.3, 0.3], [0.05, 0.1, -0.2, 0.4],
                       [1.0, 1.0, 1.0, 1.0]])
FLIPPED_DELTAS = torch.tensor([[0.2, -0.1, 0.1, 0.0], [0.3, 0.1, 0.0, 0.2],
                               [-2.0, 2.0, 2.0, 2.0], [0.1, 0.3, -0.2, 0.1],
                               [-3.0, 3.0, 3.0, 3.0]])


def test_cls_term_is_the_mean_symmetric_kl_over_kept_priors():
    cls, _ = csd_consistency(PROBS, FLIPPED, DELTAS, FLIPPED_DELTAS)
    p, f = PROBS.tolist(), FLIPPED.tolist()
    expected = sum(
        (_kl(f[i], p[i]) + _kl(p[i], f[i])) / 2 for i in KEPT) / len(KEPT)
    assert cls.item() == pytest.approx(expected, rel=1e-5)


def test_loc_term_negates_dx_and_averages_the_four_means():
    _, loc = csd_consistency(PROBS, FLIPPED, DELTAS, FLIPPED_DELTAS)
    d, f = DELTAS.tolist(), FLIPPED_DELTAS.tolist()
    means = [
        sum((d[i][0] + f[i][0])**2 for i in KEPT) / len(KEPT),
        sum((d[i][1] - f[i][1])**2 for i in KEPT) / len(KEPT),
        sum((d[i][2] - f[i][2])**2 for i in KEPT) / len(KEPT),
        sum((d[i][3] - f[i][3])**2 for i in KEPT) / len(KEPT),
    ]
    assert loc.item() == pytest.approx(sum(means) / 4, rel=1e-5)


def test_loc_term_is_zero_for_mirrored_deltas_only():
    mirrored = DELTAS * torch.tensor([-1.0, 1.0, 1.0, 1.0])
    _, loc = csd_consistency(PROBS, FLIPPED, DELTAS, mirrored)
    assert loc.item() == 0
    # Without the x-sign flip the dx terms remain: mean (2 dx)^2 / 4.
    _, loc = csd_consistency(PROBS, FLIPPED, DELTAS, DELTAS.clone())
    dx = [DELTAS[i, 0].item() for i in KEPT]
    expected = sum((2 * v)**2 for v in dx) / len(KEPT) / 4
    assert loc.item() == pytest.approx(expected, rel=1e-5)
    assert loc.item() > 0


def test_background_priors_do_not_contribute():
    cls, loc = csd_consistency(PROBS, FLIPPED, DELTAS, FLIPPED_DELTAS)
    flipped, flipped_deltas = FLIPPED.clone(), FLIPPED_DELTAS.clone()
    deltas = DELTAS.clone()
    for i in (2, 4):
        flipped[i] = torch.tensor([0.05, 0.9, 0.05])
        flipped_deltas[i] = torch.tensor([7.0, -7.0, 7.0, -7.0])
        deltas[i] = torch.tensor([-5.0, 5.0, -5.0, 5.0])
    cls2, loc2 = csd_consistency(PROBS, flipped, deltas, flipped_deltas)
    assert cls2.item() == cls.item() and loc2.item() == loc.item()


def test_gradient_reaches_both_views():
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    logits[:, 0] += 3  # keep every prior foreground-dominant
    logits.requires_grad_()
    flipped_logits = torch.randn(6, 4, requires_grad=True)
    deltas = torch.randn(6, 4, requires_grad=True)
    flipped_deltas = torch.randn(6, 4, requires_grad=True)
    cls, loc = csd_consistency(
        logits.softmax(-1), flipped_logits.softmax(-1), deltas,
        flipped_deltas)
    (cls + loc).backward()
    for tensor in (logits, flipped_logits, deltas, flipped_deltas):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0


def test_zero_and_attached_when_nothing_is_kept():
    probs = torch.tensor([[0.1, 0.1, 0.8], [0.2, 0.3, 0.5]],
                         requires_grad=True)
    flipped = torch.tensor([[0.8, 0.1, 0.1], [0.9, 0.05, 0.05]],
                           requires_grad=True)
    deltas = torch.ones(2, 4, requires_grad=True)
    flipped_deltas = torch.ones(2, 4, requires_grad=True)
    cls, loc = csd_consistency(probs, flipped, deltas, flipped_deltas)
    assert cls.shape == () and loc.shape == ()
    assert cls.item() == 0 and loc.item() == 0
    assert cls.requires_grad and loc.requires_grad
    (cls + loc).backward()
    for tensor in (probs, flipped, deltas, flipped_deltas):
        assert tensor.grad is not None and tensor.grad.abs().sum() == 0
    empty = torch.zeros(0, 3, requires_grad=True)
    cls, loc = csd_consistency(empty, empty, torch.zeros(0, 4),
                               torch.zeros(0, 4))
    assert cls.item() == 0 and cls.requires_grad


def test_shape_errors():
    with pytest.raises(ValueError, match='C \\+ 1'):
        csd_consistency(PROBS, FLIPPED[:3], DELTAS, FLIPPED_DELTAS)
    with pytest.raises(ValueError, match='\\[5, 4\\]'):
        csd_consistency(PROBS, FLIPPED, DELTAS[:, :2], FLIPPED_DELTAS)


@pytest.mark.parametrize('step, expected', [
    (0, 0.0),
    (8000, math.exp(-5 * 0.75**2)),
    (16000, math.exp(-5 * 0.25)),
    (31999, math.exp(-5 * (1 / 32000)**2)),
    (32000, 1.0),
    (100000, 1.0),
    (105000, math.exp(-12.5 * 0.25**2)),
    (110000, math.exp(-12.5 * 0.25)),
    (119999, math.exp(-12.5 * (19999 / 20000)**2)),
    (120000, 0.0),
    (150000, 0.0),
])
def test_csd_ramp_closed_form(step, expected):
    assert csd_ramp(step, 32000, 100000, 120000) == pytest.approx(
        expected, rel=1e-12, abs=1e-15)


def test_csd_ramp_without_a_plateau_or_ramp_down():
    assert csd_ramp(5, 10, 10, 10) == pytest.approx(math.exp(-5 * 0.25))
    assert csd_ramp(10, 10, 10, 10) == 0.0
    assert csd_ramp(10, 10, 20, 20) == 1.0


@pytest.mark.parametrize('args, field', [
    ((0, 10, 20), 'model.ramp.ramp_up=0'),
    ((15, 10, 20), 'model.ramp.ramp_down_start=10'),
    ((5, 10, 8), 'model.ramp.total=8'),
])
def test_csd_ramp_errors_name_the_field(args, field):
    with pytest.raises(ValueError, match=field):
        csd_ramp(1, *args)
