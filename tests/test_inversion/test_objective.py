"""The terms of GradInversion's objective against hand-written formulas."""
import math

import pytest
import torch
from torch import nn

from mmext.inversion.objective import BNStatisticsPrior, \
    gradient_matching_loss, l2_prior, total_variation_prior, \
    warmup_cosine_lr


def test_gradient_matching_is_a_weighted_sum_of_layer_norms():
    a = [torch.tensor([3.0, 4.0]), torch.ones(2, 2)]
    b = [torch.zeros(2), torch.zeros(2, 2)]
    # ||(3, 4)|| = 5, ||ones(2, 2)|| = 2: not the squared global norm (29)
    assert gradient_matching_loss(a, b).item() == pytest.approx(7.0)
    assert gradient_matching_loss(a, b, [0.5, 2.0]).item() == \
        pytest.approx(6.5)
    with pytest.raises(ValueError, match='same parameters'):
        gradient_matching_loss(a, b[:1])


def test_total_variation_four_directions():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    # horizontal and vertical differences are 1 and 3 everywhere (6 each),
    # the diagonals 2 and 4 (4 each)
    expected = (math.sqrt(6 * 1) + math.sqrt(6 * 9) + math.sqrt(4 * 4) +
                math.sqrt(4 * 16))
    assert total_variation_prior(x).item() == pytest.approx(expected)


def test_l2_prior_is_the_mean_image_norm():
    x = torch.zeros(2, 1, 2, 2)
    x[0] = 1.0  # norm 2
    assert l2_prior(x).item() == pytest.approx(1.0)


def test_bn_prior_compares_input_statistics_with_running_ones():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 2, 3), nn.BatchNorm2d(2)).eval()
    for bn in (model[1], model[4]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(5, 3, 9, 9)
    with BNStatisticsPrior(model, first_bn_multiplier=10) as prior:
        model(x)
    expected = 0.0
    features = x
    for index, weight in ((1, 10.0), (4, 1.0)):
        features = model[:index](x)
        bn = model[index]
        mean = features.mean(dim=(0, 2, 3))
        var = features.var(dim=(0, 2, 3), unbiased=False)
        expected += weight * ((mean - bn.running_mean).norm() +
                              (var - bn.running_var).norm()).item()
    assert prior.loss.item() == pytest.approx(expected, rel=1e-5)
    model(x)  # outside the context: nothing collected
    assert len(prior.terms) == 2
    with pytest.raises(ValueError, match='no BatchNorm'):
        BNStatisticsPrior(nn.Linear(2, 2))


def test_warmup_then_cosine():
    lrs = [warmup_cosine_lr(s, 150, 50, 0.1) for s in range(150)]
    assert lrs[0] == pytest.approx(0.1 / 50)
    assert lrs[49] == pytest.approx(0.1)
    assert lrs[50] == pytest.approx(0.1)
    assert lrs[100] == pytest.approx(0.05)
    assert lrs[-1] < 1e-4


def test_cosine_gradient_distance_is_one_minus_the_flat_cosine():
    from mmext.inversion.objective import cosine_gradient_distance
    torch.manual_seed(0)
    a = [torch.randn(3, 4), torch.randn(5)]
    b = [torch.randn(3, 4), torch.randn(5)]
    flat = torch.nn.functional.cosine_similarity(
        torch.cat([t.flatten() for t in a]),
        torch.cat([t.flatten() for t in b]), dim=0)
    assert cosine_gradient_distance(a, b).item() == pytest.approx(
        1 - flat.item(), abs=1e-6)
    # Scale-free: only the direction of the gradients counts.
    scaled = [7.0 * t for t in a]
    assert cosine_gradient_distance(scaled, b).item() == pytest.approx(
        1 - flat.item(), abs=1e-6)
    assert cosine_gradient_distance(a, a).item() == pytest.approx(0,
                                                                  abs=1e-6)
