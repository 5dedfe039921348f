"""GradInversion's batched seeds (``InversionSettings.batched_seeds``) equal
the loop over seeds: per-seed terms (each seed's own BN statistics and own
weight gradient), the images after some steps, and a resumed run.

In float64 on a tiny BN classifier, so the two paths agree to ~1e-12."""
import dataclasses
from typing import Tuple

import pytest
import torch
from torch import nn

from mmext.engine.runner.gradinversion_loop import build_settings
from mmext.inversion.attack import GradInversion, InversionSettings, \
    gradient_distance, valid_range
from mmext.inversion.gradients import batch_gradients
from mmext.inversion.objective import BNStatisticsPrior

pytestmark = pytest.mark.usefixtures('one_torch_thread')

LOWER, UPPER = valid_range((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
SHAPE = (3, 8, 8)
# float64: the paths differ by summation order only.
TIGHT = dict(rtol=1e-9, atol=1e-12)


def _model() -> nn.Module:
    """conv-BN-ReLU x2, pooling, linear; running statistics that are not
    those of the noise the seeds start from."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                          nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(16, 5)).double().eval()
    for bn in (model[1], model[4]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return model


def _attacks(model: nn.Module = None, **settings
             ) -> Tuple[GradInversion, GradInversion]:
    """(loop, batched) attacks on the same target, seed and start."""
    model = model if model is not None else _model()
    images = torch.rand(3, *SHAPE, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(1)) * 2 - 1
    labels = torch.tensor([1, 4, 0])
    targets = batch_gradients(model, images, labels)
    fields = dict(iterations=20, warmup=2, num_seeds=3, group_start=2,
                  group_every=2, grad_distance='cosine', grad_weight=1.0,
                  bn_weight=0.1, tv_weight=1e-2, l2_weight=1e-3,
                  group_weight=1e-2, noise=0.2, lr=0.05)
    fields.update(settings)
    return tuple(
        GradInversion(model, targets, labels, SHAPE, LOWER, UPPER,
                      InversionSettings(**fields, batched_seeds=batched))
        for batched in (False, True))


def _distinct_seeds(*attacks: GradInversion) -> torch.Tensor:
    """Give every attack the same seeds, each with its own mean and
    spread (pooled statistics or gradients would then differ from every
    seed's own)."""
    base = attacks[0].images.detach().clone()
    for g in range(base.shape[0]):
        base[g] = base[g] * (0.5 + g) + 0.4 * g - 0.3
    for attack in attacks:
        with torch.no_grad():
            attack.images.copy_(base)
    return base


@pytest.mark.parametrize('settings', [
    dict(),
    dict(grad_distance='l2', grad_weight=1e-2),
    dict(grad_weight=0.0),
    dict(bn_weight=0.0),
])
def test_seed_terms_equal_the_loop(settings):
    loop, batched = _attacks(**settings)
    _distinct_seeds(loop, batched)
    expected = loop.seed_terms()
    got = batched.seed_terms()
    assert list(got) == list(expected)
    for key in expected:
        assert got[key].shape == (3, )
        torch.testing.assert_close(got[key], expected[key], **TIGHT)
    # And their gradients with respect to the images.
    want = torch.autograd.grad(sum(expected.values()).sum(), loop.images)
    have = torch.autograd.grad(sum(got.values()).sum(), batched.images)
    torch.testing.assert_close(have[0], want[0], **TIGHT)


def test_bn_prior_uses_each_seeds_own_statistics():
    loop, batched = _attacks(grad_weight=0.0)
    images = _distinct_seeds(loop, batched)
    model, weight = batched.model, batched.settings.bn_weight
    prior = BNStatisticsPrior(model, batched.settings.first_bn_multiplier)
    own = []
    for seed in images:
        with prior:
            model(seed)
        own.append(weight * prior.loss)
    with prior:
        model(images.flatten(0, 1))  # all seeds pooled into one batch
    pooled = weight * prior.loss
    got = batched.seed_terms()['bn'].detach()
    torch.testing.assert_close(got, torch.stack(own), **TIGHT)
    # The check discriminates: pooled statistics give another value.
    assert (got - pooled).abs().min() > 1e-3 * pooled


def test_gradient_term_uses_each_seeds_own_gradient():
    loop, batched = _attacks(bn_weight=0.0)
    images = _distinct_seeds(loop, batched)
    model, labels = batched.model, batched.labels
    distance = gradient_distance(batched.settings.grad_distance)
    own = torch.stack([
        distance(batch_gradients(model, seed, labels), batched.targets)
        for seed in images
    ])
    summed = [
        sum(parts) for parts in zip(*(batch_gradients(model, seed, labels)
                                      for seed in images))
    ]
    got = batched.seed_terms()['gradient'].detach()
    torch.testing.assert_close(got, own, **TIGHT)
    # The check discriminates: the seeds' summed gradient (the gradient
    # of one pooled batch with the summed loss) is another distance.
    pooled = distance(summed, batched.targets)
    assert (got - pooled).abs().min() > 1e-3


def test_steps_equal_the_loop():
    loop, batched = _attacks()
    for _ in range(5):  # group consensus from step 2, noise every step
        expected = loop.step()
        got = batched.step()
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert 'group' in got
    torch.testing.assert_close(batched.images, loop.images, **TIGHT)
    torch.testing.assert_close(batched.best_images, loop.best_images,
                               **TIGHT)
    assert batched.best_loss == pytest.approx(loop.best_loss, rel=1e-9)
    # Only the images are differentiated, in either path.
    assert all(p.grad is None for p in batched.model.parameters())


@pytest.mark.parametrize('first', [True, False])
def test_resume_continues_exactly(first):
    """Resume a batched run from a state saved by either path."""
    _, straight = _attacks()
    for _ in range(6):
        straight.step()
    saver = _attacks()[0 if not first else 1]
    for _ in range(3):
        saver.step()
    state = saver.state_dict()
    assert state['settings']['batched_seeds'] is first
    resumed = _attacks()[1]
    resumed.load_state_dict(state)
    for _ in range(3):
        resumed.step()
    torch.testing.assert_close(resumed.images, straight.images, **TIGHT)
    assert resumed.iteration == straight.iteration == 6


def test_non_finite_seed_is_named_and_best_images_kept():
    _, batched = _attacks()
    batched.step()
    best = batched.best_images.clone()
    with torch.no_grad():
        batched.images[2, 0, 0, 0, 0] = float('nan')
    with pytest.raises(FloatingPointError, match=r'seed 2.*best_images'):
        batched.step()
    assert torch.equal(batched.best_images, best)


def test_mmpretrain_classifier_equals_the_loop():
    """The ``mode='tensor'`` forward of an mmpretrain classifier."""
    from mmpretrain.models import ImageClassifier

    from mmext.testing.classifiers import resnet18_classifier_cfg
    torch.manual_seed(0)
    model = ImageClassifier(**resnet18_classifier_cfg(4, 5))
    model = model.double().eval()
    loop, batched = _attacks(model)
    for attack in (loop, batched):
        attack.step()
    torch.testing.assert_close(batched.images, loop.images, **TIGHT)


def test_setting_defaults_and_config_field():
    assert InversionSettings().batched_seeds is True
    settings = build_settings(dict(batched_seeds=False, num_seeds=2))
    assert dataclasses.asdict(settings)['batched_seeds'] is False


def test_frozen_parameters_are_left_out_alike():
    """Only trainable parameters are matched (as ``batch_gradients``)."""
    model = _model()
    model[0].weight.requires_grad_(False)
    loop, batched = _attacks(model)
    assert len(batched.targets) == len(list(model.parameters())) - 1
    loop.step()
    batched.step()
    torch.testing.assert_close(batched.images, loop.images, **TIGHT)


def test_benchmark_tool(gi_folder, gi_cfg, tmp_path, capsys):
    """benchmark_gradinversion_restarts.py: one short interleaved run."""
    from mmengine.config import Config

    from mmext.apis import init_model
    from mmext.testing.tools import load_tool
    tool = load_tool('analysis_tools/benchmark_gradinversion_restarts.py')
    cfg = gi_cfg(gi_folder, str(tmp_path / 'work'), attack=dict(noise=0.0))
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'victim.pth')
    torch.save({'state_dict': init_model(Config(cfg)).state_dict()},
               checkpoint)
    path = str(tmp_path / 'gi.py')
    Config(cfg).dump(path)
    assert tool.main([path, '--checkpoint', checkpoint, '--iterations', '2',
                      '--repeats', '2', '--warmup', '0', '--threads', '1',
                      '--ceiling']) == 0
    out = capsys.readouterr().out
    assert '2 seeds x batch 4 x (3, 16, 16)' in out
    assert 'loop' in out and 'batched/loop' in out
    assert 'pooled/loop (the ceiling of batching)' in out
    # The ceiling's one seed attacks both seeds' worth of images at once,
    # with their true labels.
    model = init_model(Config.fromfile(path), checkpoint).eval()
    single = tool.first_target(Config.fromfile(path), model)
    pooled = tool.first_target(Config.fromfile(path), model, 2)
    assert pooled.images.shape[0] == 2 * single.images.shape[0]
    assert torch.equal(pooled.images[:4], single.images)
    with pytest.raises(SystemExit):
        tool.parse_args([path, '--checkpoint', checkpoint, '--repeats', '0'])
