"""GradInversion's seeds in one pooled forward (``attack.pooled_seeds``,
:mod:`mmext.inversion.pooled`): every seed's inner product with the
observed gradient and squared gradient norm equal those of its own
gradient (written out per seed with ``batch_gradients``), on both ways of
computing a layer's squared norm; the objective, its gradient and the
steps equal the loop's; the BN prior stays per seed; and a victim the path
cannot handle is named, or left to the other paths.

In float64, so the paths agree to ~1e-12."""
import dataclasses

import pytest
import torch
from torch import nn

from mmext.engine.runner.gradinversion_loop import build_settings
from mmext.inversion import pooled
from mmext.inversion.attack import InversionSettings
from mmext.inversion.gradients import batch_gradients
from mmext.inversion.pooled import pooled_gradient_products, \
    pooled_unsupported_reason, uses_gram_matrices
from mmext.testing.classifiers import tiny_bn_classifier

from mmext.testing.inversion import TIGHT, distinct_seeds, seeded_attacks, \
    take_the_same_steps

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _every_layer_kind() -> nn.Module:
    """Strided, dilated, 1x1 and biased convolutions, BatchNorm1d/2d (one
    with a frozen scale), ReLU(inplace=True) after BN, and linear layers
    with and without bias, in float64 and eval mode."""
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=True),
        nn.BatchNorm2d(6), nn.ReLU(inplace=True),
        nn.Conv2d(6, 8, 3, padding=2, dilation=2, bias=False),
        nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Conv2d(8, 12, 1, bias=True), nn.ReLU(),
        nn.Flatten(), nn.Linear(12 * 4 * 4, 10, bias=False),
        nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 5)).double().eval()
    for bn in (model[1], model[4], model[10]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
    model[4].weight.requires_grad_(False)
    return model


def _own_products(model, images, labels, targets):
    """The reference: each seed's own gradient, its inner product with
    the targets and its squared norm, written out."""
    dots, squares = [], []
    for seed in images:
        grads = batch_gradients(model, seed, labels, create_graph=True)
        dots.append(sum((g * t).sum() for g, t in zip(grads, targets)))
        squares.append(sum(g.pow(2).sum() for g in grads))
    return torch.stack(dots), torch.stack(squares)


@pytest.mark.parametrize('gram', [None, True, False])
@pytest.mark.parametrize('build', [tiny_bn_classifier, _every_layer_kind])
def test_products_equal_each_seeds_own_gradient(build, gram, monkeypatch):
    """Both ways to a layer's squared norm (Gram matrices, the seed's
    gradient itself) and the automatic choice, with the images'
    gradient."""
    if gram is not None:
        monkeypatch.setattr(pooled, 'uses_gram_matrices',
                            lambda *args: gram)
    model = build()
    generator = torch.Generator().manual_seed(0)
    labels = torch.tensor([1, 4, 0])
    observed = torch.rand(3, 3, 8, 8, dtype=torch.float64,
                          generator=generator)
    targets = batch_gradients(model, observed, labels)
    images = torch.randn(4, 3, 3, 8, 8, dtype=torch.float64,
                         generator=generator)
    images = (images * torch.arange(1., 5.).view(4, 1, 1, 1, 1).double()
              ).requires_grad_(True)
    dot, square = pooled_gradient_products(model, images, labels, targets)
    want_dot, want_square = _own_products(model, images, labels, targets)
    torch.testing.assert_close(dot, want_dot, **TIGHT)
    torch.testing.assert_close(square, want_square, **TIGHT)
    # Differentiable with respect to the images, per seed.
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    got = torch.autograd.grad(((dot + square) * weights).sum(), images)[0]
    want = torch.autograd.grad(((want_dot + want_square) * weights).sum(),
                               images)[0]
    torch.testing.assert_close(got, want, **TIGHT)
    # The check discriminates: the seeds' pooled gradient is another one.
    summed = batch_gradients(model, images.flatten(0, 1),
                             labels.repeat(4))
    assert (square - sum(g.pow(2).sum() for g in summed)).abs().min() > 1e-6
    # The model is left as it was.
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert all(p.grad is None for p in model.parameters())


def test_gram_matrices_where_they_cost_less():
    # A 256-channel 3x3 convolution seen at 32 positions: Gram matrices.
    assert uses_gram_matrices(32, 256 * 9, 256)
    # A 32-channel one at 2048 positions: the seed's gradient.
    assert not uses_gram_matrices(2048, 32 * 9, 32)


@pytest.mark.parametrize('settings', [
    dict(),
    dict(grad_weight=0.0),
    dict(bn_weight=0.0),
])
def test_seed_terms_and_steps_equal_the_loop(settings):
    loop = seeded_attacks(**settings)[0]
    one, two = (
        seeded_attacks(pooled_seeds=True, seed_workers=w, **settings)[0]
        for w in (1, 2))
    assert (loop.pooled, one.pooled, two.pooled) == (False, True, True)
    distinct_seeds(loop, one, two)
    expected = loop.seed_terms()
    got = one.seed_terms()
    assert list(got) == list(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], **TIGHT)
    want = torch.autograd.grad(sum(expected.values()).sum(), loop.images)
    have = torch.autograd.grad(sum(got.values()).sum(), one.images)
    torch.testing.assert_close(have[0], want[0], **TIGHT)
    # Steps with group consensus and noise, on one worker and on two.
    twin = seeded_attacks(**settings)[0]
    distinct_seeds(twin)
    assert 'group' in take_the_same_steps(loop, one)
    take_the_same_steps(twin, two)
    assert all(p.grad is None for p in one.model.parameters())


def test_bn_prior_is_each_seeds_own():
    loop = seeded_attacks(grad_weight=0.0)[0]
    attack = seeded_attacks(grad_weight=0.0, pooled_seeds=True)[0]
    images = distinct_seeds(loop, attack)
    expected = loop.seed_terms()['bn']
    torch.testing.assert_close(attack.seed_terms()['bn'], expected, **TIGHT)
    prior = attack.bn_prior
    with prior:  # all seeds pooled into one batch
        attack.model(images.flatten(0, 1))
    pooled_value = attack.settings.bn_weight * prior.loss
    assert (expected - pooled_value).abs().min() > 1e-3 * pooled_value
    assert prior.seeds is None  # per seed for one context only


def test_mmpretrain_classifier_equals_the_loop():
    """mmpretrain's ResNet: ReLU(inplace=True) after BN, residual adds,
    strided 1x1 shortcuts, the ``mode='tensor'`` forward."""
    from mmpretrain.models import ImageClassifier

    from mmext.testing.classifiers import resnet18_classifier_cfg
    torch.manual_seed(0)
    model = ImageClassifier(**resnet18_classifier_cfg(4, 5)).double().eval()
    loop = seeded_attacks(model)[0]
    attack = seeded_attacks(model, pooled_seeds=None)[0]
    assert attack.pooled and attack.workers == 1  # the default here
    distinct_seeds(loop, attack)
    take_the_same_steps(loop, attack)


def _shared_weights() -> nn.Module:
    conv = nn.Conv2d(3, 3, 3, padding=1)
    return nn.Sequential(conv, nn.ReLU(), conv, nn.Flatten(),
                         nn.Linear(3 * 8 * 8, 5)).double().eval()


class _StandardisedConv2d(nn.Conv2d):
    """A convolution whose forward changes its weight (weight
    standardisation): its gradient is not the plain convolution's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight - self.weight.mean((1, 2, 3), keepdim=True)
        return self._conv_forward(x, weight, self.bias)


class _KeptForwardConv2d(nn.Conv2d):
    """A subclass that keeps nn.Conv2d's forward."""


def _sharing_weight_with(conv: nn.Conv2d) -> nn.Conv2d:
    """A second 4->4 convolution whose weight is ``conv``'s."""
    twin = nn.Conv2d(4, 4, 3, padding=1).double().eval()
    twin.weight = conv.weight
    return twin


@pytest.mark.parametrize('change, reason', [
    (lambda m: m.train(), r'training mode.*model\.eval\(\)'),
    (lambda m: m.append(nn.LayerNorm(5).double().eval()),
     r'9 \(LayerNorm\) holds trainable parameters'),
    (lambda m: setattr(m[0], 'padding_mode', 'reflect'),
     r"0 pads with padding=\(1, 1\), padding_mode='reflect'"),
    (lambda m: m.__setitem__(
        0, nn.Conv2d(3, 4, 3, padding='same').double().eval()),
     r"0 pads with padding='same'"),
    (lambda m: m.insert(4, _sharing_weight_with(m[3])),
     r'4 shares a parameter with 3'),
    (lambda m: m.__setitem__(
        3, _StandardisedConv2d(4, 4, 3, padding=1).double().eval()),
     r'3 \(_StandardisedConv2d\) holds trainable parameters'),
])
def test_unsupported_victims_are_named(change, reason):
    model = tiny_bn_classifier()
    change(model)
    assert pooled_unsupported_reason(model) is not None
    with pytest.raises(ValueError,
                       match=r'attack\.pooled_seeds=True cannot run: .*' +
                       reason):
        seeded_attacks(model, pooled_seeds=True)
    # None leaves such a victim to the other paths.
    assert seeded_attacks(model, pooled_seeds=None)[0].pooled is False


def test_subclasses_that_keep_the_forward_are_supported():
    model = tiny_bn_classifier()
    kept = _KeptForwardConv2d(4, 4, 3, padding=1).double().eval()
    kept.load_state_dict(model[3].state_dict())
    model[3] = kept
    model[4] = nn.SyncBatchNorm(4).double().eval()
    assert pooled_unsupported_reason(model) is None
    loop = seeded_attacks(model)[0]
    attack = seeded_attacks(model, pooled_seeds=True)[0]
    distinct_seeds(loop, attack)
    take_the_same_steps(loop, attack)


def test_frozen_layers_are_left_out_and_supported():
    model = tiny_bn_classifier()
    model[0].weight.requires_grad_(False)
    model[0].bias.requires_grad_(False)
    model.append(nn.LayerNorm(5).double().eval().requires_grad_(False))
    assert pooled_unsupported_reason(model) is None
    loop = seeded_attacks(model)[0]
    attack = seeded_attacks(model, pooled_seeds=True)[0]
    take_the_same_steps(loop, attack)


def test_l2_distance_is_left_to_the_other_paths():
    settings = dict(grad_distance='l2', grad_weight=1e-2)
    assert seeded_attacks(pooled_seeds=None, **settings)[0].pooled is False
    with pytest.raises(ValueError, match=r"grad_distance='l2'.*'cosine'"):
        seeded_attacks(pooled_seeds=True, **settings)
    # Without a gradient term the distance does not matter.
    assert seeded_attacks(pooled_seeds=True, grad_weight=0.0,
                    grad_distance='l2')[0].pooled


def test_shared_weights_are_named():
    model = _shared_weights()
    attack = seeded_attacks(model, pooled_seeds=True, bn_weight=0.0)[0]
    with pytest.raises(ValueError, match=r'Conv2d runs more than once.*'
                       r'attack\.pooled_seeds=False'):
        attack.step()
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_setting_default_and_bad_values():
    assert InversionSettings().pooled_seeds is None
    default = seeded_attacks(pooled_seeds=None)[0]
    assert default.pooled and default.workers == 1
    assert seeded_attacks(pooled_seeds=None, seed_workers=2)[0].workers == 2
    for value in (1, 'yes'):
        with pytest.raises(ValueError, match=r'attack\.pooled_seeds'):
            build_settings(dict(pooled_seeds=value))
    assert dataclasses.asdict(build_settings(
        dict(pooled_seeds=False)))['pooled_seeds'] is False
