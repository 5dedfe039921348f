"""The optimisation baseline of direct inversion (``invert_features``) on a
ResNet-18 of width 8 at 32 px: it recovers a smooth image from the stem's
features, leaves the model as it was, is seeded, clamps and rejects bad
arguments with errors that name them."""
from typing import Dict

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import ResNet
from torch import nn

from mmext.inversion import (blocks_until, invert_features, psnr,
                             split_forward, valid_range)

SIZE = 32
IMAGE_SHAPE = (3, SIZE, SIZE)
# On a busy 2-core machine two OpenMP threads make these tiny steps ~50x
# slower.
pytestmark = pytest.mark.usefixtures('one_torch_thread')
# The normalisation of the test images: [0, 1] -> (x - 0.5) / 0.25.
MEAN, STD = [0.5] * 3, [0.25] * 3


def _resnet(**kwargs) -> ResNet:
    """A seeded ResNet-18 of width 8, in eval mode."""
    torch.manual_seed(0)
    model = ResNet(depth=18, stem_channels=8, base_channels=8, **kwargs)
    model.eval()
    return model


def _smooth_images(num: int = 2) -> torch.Tensor:
    """[num, 3, 32, 32] in [0, 1]: bilinearly upsampled 4x4 noise."""
    coarse = torch.rand(num, 3, 4, 4,
                        generator=torch.Generator().manual_seed(1))
    return F.interpolate(coarse, size=(SIZE, SIZE), mode='bilinear',
                         align_corners=False)


def _normalise(images: torch.Tensor) -> torch.Tensor:
    return (images - MEAN[0]) / STD[0]


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    return (images * STD[0] + MEAN[0]).clamp(0, 1)


def _feature_distance(model: nn.Module, images: torch.Tensor,
                      features: torch.Tensor) -> float:
    with torch.no_grad():
        out = split_forward(model, 'stem', images)
    return float((out - features).pow(2).sum() / features.pow(2).sum())


def _split_features(model: nn.Module, split: str = 'stem') -> torch.Tensor:
    """The split output of the two smooth images (the model in eval
    mode)."""
    with torch.no_grad():
        return split_forward(model, split, _normalise(_smooth_images()))


def test_recovers_a_smooth_image_from_stem_features():
    model = _resnet()
    truth = _smooth_images()
    features = _split_features(model)
    lower, upper = valid_range(MEAN, STD)
    recovered = invert_features(model, 'stem', features, IMAGE_SHAPE,
                                iterations=150, warmup=10, lr=0.2,
                                lower=lower, upper=upper)
    # The start: the same seed's N(0, 1) noise, clamped.
    start = torch.randn((2, *IMAGE_SHAPE),
                        generator=torch.Generator().manual_seed(0))
    start = torch.max(torch.min(start, upper.view(1, -1, 1, 1)),
                      lower.view(1, -1, 1, 1))
    assert recovered.shape == truth.shape
    assert not recovered.requires_grad
    start_distance = _feature_distance(model, start, features)
    assert _feature_distance(model, recovered, features) < \
        0.01 * start_distance
    start_psnr = psnr(_to_unit(start), truth).mean()
    # About 10 dB from the start's 10 dB.
    assert psnr(_to_unit(recovered), truth).mean() > start_psnr + 6


def _modes(model: nn.Module) -> Dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


def test_leaves_the_model_unchanged():
    model = _resnet()
    features = {split: _split_features(model, split)
                for split in ('stem', 'layer1')}
    model.train()
    model.layer1.eval()  # mixed flags come back as they were
    modes = _modes(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for split, target in features.items():
        invert_features(model, split, target, IMAGE_SHAPE, iterations=3)
    assert _modes(model) == modes
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert all(p.grad is None for p in model.parameters())


def test_same_seed_same_images():
    model = _resnet()
    features = _split_features(model)

    def run(seed: int) -> torch.Tensor:
        return invert_features(model, 'stem', features, IMAGE_SHAPE,
                               iterations=3, seed=seed)

    assert torch.equal(run(0), run(0))
    assert not torch.allclose(run(0), run(1))


def test_clamps_every_pixel_per_channel():
    model = _resnet()
    lower = torch.tensor([-0.5, -0.2, 0.0])
    upper = torch.tensor([0.5, 0.3, 0.1])
    out = invert_features(model, 'stem', _split_features(model), IMAGE_SHAPE,
                          iterations=5, lower=lower, upper=upper)
    per_channel = out.transpose(0, 1).flatten(1)
    assert (per_channel.min(1).values >= lower).all()
    assert (per_channel.max(1).values <= upper).all()
    # The bounds bind: N(0, 1) noise leaves them without the clamp.
    assert (per_channel.max(1).values == upper).all()


def test_progress_bar(capsys):
    model = _resnet()
    invert_features(model, 'stem', _split_features(model), IMAGE_SHAPE,
                    iterations=2, progress=True)
    assert '2/2' in capsys.readouterr().out


def test_wrong_feature_shape_names_both_shapes():
    model = _resnet()
    model.train()
    features = _split_features(model)
    with pytest.raises(ValueError) as error:
        invert_features(model, 'stem', features, (3, 64, 64), iterations=1)
    message = str(error.value)
    assert 'features' in message
    assert str(tuple(features.shape)) in message
    assert str((2, 8, 16, 16)) in message
    assert all(_modes(model).values()), 'the training flags are restored'


@pytest.mark.parametrize('argument, kwargs', [
    ('features', dict(features=torch.ones(8, 8, 8))),
    ('image_shape', dict(image_shape=(32, 32))),
    ('iterations', dict(iterations=0)),
    ('lower', dict(lower=torch.zeros(2))),
    ('upper', dict(upper=torch.zeros(3, 1))),
])
def test_bad_argument_is_named(argument, kwargs):
    model = _resnet()
    call = dict(model=model, split='stem', features=_split_features(model),
                image_shape=IMAGE_SHAPE, iterations=1)
    call.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        invert_features(**call)


def test_bad_split_lists_the_valid_names():
    model = _resnet()
    with pytest.raises(ValueError) as expected:
        blocks_until(model, 'layer9')
    with pytest.raises(ValueError) as error:
        invert_features(model, 'layer9', _split_features(model), IMAGE_SHAPE,
                        iterations=1)
    assert str(error.value) == str(expected.value)
    assert "'layer2.0'" in str(error.value)


def test_bn_prior_needs_a_batchnorm_before_the_split():
    model = _resnet(norm_cfg=dict(type='GN', num_groups=1))
    # A BatchNorm after the split does not count: it never runs.
    model.layer4[1].gn2 = nn.BatchNorm2d(64)
    model.layer4[1].gn2.eval()
    features = _split_features(model)
    with pytest.raises(ValueError, match='bn_weight'):
        invert_features(model, 'stem', features, IMAGE_SHAPE, iterations=1,
                        bn_weight=1e-2)
    out = invert_features(model, 'stem', features, IMAGE_SHAPE,
                          iterations=2, bn_weight=0)
    assert out.shape == (2, *IMAGE_SHAPE)
