"""GradInversion's optimisation on a tiny BN classifier: it learns, it
resumes exactly, and a NaN stops it with the best images kept."""
import math

import pytest
import torch
from torch import nn

from mmext.inversion.attack import GradInversion, InversionSettings, \
    valid_range
from mmext.inversion.gradients import batch_gradients
from mmext.inversion.image_metrics import psnr

LOWER, UPPER = valid_range((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def _setup(**settings):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(32, 6))
    images = torch.rand(2, 3, 8, 8) * 2 - 1  # normalised [-1, 1]
    model[1].momentum = 1.0  # running statistics := this batch's
    model.train()
    model(images)
    model.eval()
    labels = torch.tensor([1, 4])
    targets = batch_gradients(model, images, labels)
    defaults = dict(iterations=300, warmup=10, num_seeds=2, group_start=100,
                    group_every=20, noise=0.0, grad_weight=1.0,
                    lr=0.05)
    defaults.update(settings)
    oracle = defaults.get('init') == 'oracle'
    attack = GradInversion(model, targets, labels, (3, 8, 8), LOWER, UPPER,
                           InversionSettings(**defaults),
                           true_images=images if oracle else None)
    return attack, images


def _to_unit(x):
    return (x + 1) / 2


def test_optimisation_recovers_the_batch():
    attack, images = _setup()
    first = attack.step()
    start = psnr(_to_unit(attack.result()), _to_unit(images)).mean()
    for _ in range(299):
        last = attack.step()
    end = psnr(_to_unit(attack.result()), _to_unit(images)).mean()
    assert last['gradient'] < 0.3 * first['gradient']
    assert end > start + 1  # dB; the Shapes demo measures the real figures
    assert 'group' in last  # the consensus term is on after group_start
    assert torch.all(attack.images >= LOWER.view(1, 1, 3, 1, 1) - 1e-6)


def test_resume_continues_exactly():
    straight, _ = _setup(noise=0.2)
    for _ in range(30):
        straight.step()
    first, _ = _setup(noise=0.2)
    for _ in range(15):
        first.step()
    state = first.state_dict()
    resumed, _ = _setup(noise=0.2)
    resumed.load_state_dict(state)
    for _ in range(15):
        resumed.step()
    torch.testing.assert_close(resumed.images, straight.images)
    with pytest.raises(ValueError, match='same batch'):
        _setup(num_seeds=3)[0].load_state_dict(state)


def test_nan_stops_with_the_best_images_kept():
    attack, _ = _setup()
    for _ in range(3):
        attack.step()
    best = attack.best_images.clone()
    with torch.no_grad():
        attack.images[0, 0, 0, 0, 0] = math.nan
    with pytest.raises(FloatingPointError, match='best_images'):
        attack.step()
    assert torch.equal(attack.best_images, best)


def test_oracle_init_starts_at_the_true_batch_and_stays_closer():
    exact, images = _setup(init='oracle', init_noise=0.0)
    for seed in exact.images.detach():
        torch.testing.assert_close(seed, images)
    oracle, _ = _setup(init='oracle', init_noise=0.3)
    random, _ = _setup()
    assert not torch.equal(oracle.images[0], oracle.images[1])
    for _ in range(60):
        oracle.step()
        random.step()
    near = psnr(_to_unit(oracle.result()), _to_unit(images)).mean()
    far = psnr(_to_unit(random.result()), _to_unit(images)).mean()
    assert near > far + 3  # dB


def test_oracle_init_needs_the_true_images():
    attack, _ = _setup()
    with pytest.raises(ValueError, match='true_images'):
        GradInversion(attack.model, attack.targets, attack.labels,
                      (3, 8, 8), LOWER, UPPER,
                      InversionSettings(init='oracle'))
    with pytest.raises(ValueError, match='attack.init must be one of'):
        GradInversion(attack.model, attack.targets, attack.labels,
                      (3, 8, 8), LOWER, UPPER, InversionSettings(init='x'))
