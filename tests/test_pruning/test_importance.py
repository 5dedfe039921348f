"""HALP's BN-Taylor saliency and the magnitude score against hand-written
references from the paper's formula."""
import torch
import torch.nn.functional as F
from torch import nn

from mmext.pruning.graph import build_channel_groups
from mmext.pruning.importance import TaylorSaliency, magnitude_saliency, \
    taylor_scores


class Residual(nn.Module):
    """stem -> block with a residual add -> a BN-free conv -> output conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a, self.bn_a = nn.Conv2d(3, 4, 3, padding=1), \
            nn.BatchNorm2d(4)
        self.conv_b, self.bn_b = nn.Conv2d(4, 6, 3, padding=1), \
            nn.BatchNorm2d(6)
        self.conv_c, self.bn_c = nn.Conv2d(6, 4, 1), nn.BatchNorm2d(4)
        self.conv_d = nn.Conv2d(4, 5, 1)
        self.conv_e = nn.Conv2d(5, 3, 1)
        with torch.no_grad():
            for bn in (self.bn_a, self.bn_b, self.bn_c):
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x, mode='tensor'):
        h = F.relu(self.bn_a(self.conv_a(x)))
        h = F.relu(h + self.bn_c(self.conv_c(F.relu(self.bn_b(
            self.conv_b(h))))))
        return self.conv_e(F.relu(self.conv_d(h))).mean((2, 3))


def _backward(model, seed):
    torch.manual_seed(seed)
    model.zero_grad()
    x = torch.randn(4, 3, 8, 8)
    model(x).pow(2).sum().backward()


def _bn_term(bn):
    return bn.weight * bn.weight.grad + bn.bias * bn.bias.grad


def _reference(model):
    """The formula, written out per group."""
    with torch.no_grad():
        residual = (_bn_term(model.bn_a) + _bn_term(model.bn_c)).abs()
        inner = _bn_term(model.bn_b).abs()
        w, b = model.conv_d.weight, model.conv_d.bias
        plain = ((w * w.grad).sum((1, 2, 3)) + b * b.grad).abs()
    return {'conv_a': residual, 'conv_b': inner, 'conv_d': plain}


def test_taylor_scores_match_the_formula():
    torch.manual_seed(0)
    model = Residual()
    groups = build_channel_groups(model, torch.randn(1, 3, 8, 8))
    assert {g.key for g in groups} == {'conv_a', 'conv_b', 'conv_d'}
    _backward(model, 1)
    scores = taylor_scores(model, groups)
    for key, expected in _reference(model).items():
        torch.testing.assert_close(scores[key], expected.float())


def test_saliency_is_averaged_over_updates_and_skips_non_finite():
    torch.manual_seed(0)
    model = Residual()
    groups = build_channel_groups(model, torch.randn(1, 3, 8, 8))
    saliency = TaylorSaliency(groups)
    expected = {}
    for seed in (1, 2, 3):
        _backward(model, seed)
        assert saliency.accumulate(model)
        for key, value in _reference(model).items():
            expected[key] = expected.get(key, 0) + value.double() / 3
    model.bn_b.weight.grad[0] = float('nan')
    assert not saliency.accumulate(model)  # skipped, as the reference does
    average = saliency.average()
    for key, value in expected.items():
        torch.testing.assert_close(average[key], value)
    state = saliency.state_dict()
    saliency.reset()
    assert saliency.count == 0
    saliency.load_state_dict(state)
    torch.testing.assert_close(saliency.average()['conv_a'],
                               expected['conv_a'])


def test_magnitude_is_the_l1_norm_summed_over_producers():
    torch.manual_seed(0)
    model = Residual()
    groups = build_channel_groups(model, torch.randn(1, 3, 8, 8))
    scores = magnitude_saliency(model, groups)
    l1 = lambda conv: conv.weight.detach().abs().sum((1, 2, 3))  # noqa
    torch.testing.assert_close(scores['conv_a'],
                               l1(model.conv_a) + l1(model.conv_c))
    torch.testing.assert_close(scores['conv_d'], l1(model.conv_d))


def test_optimizer_pre_hook_sees_unscaled_amp_gradients():
    """HALPHook reads gradients in an optimizer step pre-hook: under AMP the
    scaler has unscaled them by then (mmengine's AmpOptimWrapper calls
    ``unscale_`` then ``GradScaler.step``), so the scores equal fp32's."""
    torch.manual_seed(0)
    model = Residual()
    groups = build_channel_groups(model, torch.randn(1, 3, 8, 8))
    reference = TaylorSaliency(groups)
    _backward(model, 1)
    reference.accumulate(model)

    saliency = TaylorSaliency(groups)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)

    def pre_hook(*args):
        saliency.accumulate(model)

    optimizer.register_step_pre_hook(pre_hook)
    scaler = torch.amp.GradScaler('cpu', init_scale=1024.0)
    torch.manual_seed(1)
    model.zero_grad()
    x = torch.randn(4, 3, 8, 8)
    scaler.scale(model(x).pow(2).sum()).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    assert saliency.count == 1
    for key, value in reference.average().items():
        torch.testing.assert_close(saliency.average()[key], value,
                                   rtol=1e-5, atol=1e-12)
