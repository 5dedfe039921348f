"""The in-place shortcuts of mmext.models.mvs give what the plain
operations give: the variance without autograd (running sums updated in
place) to the last bit, and the in-place (leaky) ReLUs of the feature CNN
and the regulariser the right gradients."""
import pytest
import torch

from mmext.models.mvs import (ConvBnReLU3d, CVPMVSNetCore, DeconvBnReLU3d,
                              FeaturePyramid, variance_volume)


def _views(seed=0, views=3):
    gen = torch.Generator().manual_seed(seed)
    ref = torch.randn(2, 4, 5, 6, generator=gen)
    warped = [torch.randn(2, 4, 3, 5, 6, generator=gen) for _ in range(views)]
    return ref, warped


@pytest.mark.parametrize('quirk', [False, True])
@pytest.mark.parametrize('views', [1, 3])
def test_variance_without_autograd_is_bitwise_the_autograd_path(quirk, views):
    ref, warped = _views(views=views)
    expected = variance_volume(ref, warped, reference_quirk=quirk)
    assert expected.requires_grad is False
    copies = [w.clone() for w in warped]
    with torch.no_grad():
        kept = variance_volume(ref, copies, reference_quirk=quirk)
        # the inputs are left alone unless the caller gives them up
        assert all(torch.equal(a, b) for a, b in zip(copies, warped))
        consumed = variance_volume(ref, (w.clone() for w in warped),
                                   reference_quirk=quirk,
                                   overwrite_warped=True)
        with pytest.raises(ValueError, match='at least one source view'):
            variance_volume(ref, iter([]), overwrite_warped=True)
    assert torch.equal(kept, expected)
    assert torch.equal(consumed, expected)


def test_variance_with_autograd_ignores_overwrite():
    ref, warped = _views()
    warped = [w.requires_grad_() for w in warped]
    before = [w.detach().clone() for w in warped]
    variance_volume(ref, warped, overwrite_warped=True).sum().backward()
    assert all(torch.equal(w.detach(), b) for w, b in zip(warped, before))
    # d/dw of sum(var) = 2 (w - mean) / N
    mean = (ref.unsqueeze(2) + sum(before)) / 4
    torch.testing.assert_close(warped[0].grad, 2 * (before[0] - mean) / 4)


@pytest.mark.parametrize('block', [
    lambda: ConvBnReLU3d(2, 3), lambda: ConvBnReLU3d(2, 3, stride=2),
    lambda: DeconvBnReLU3d(2, 3, stride=2)
])
def test_in_place_relu_blocks_have_correct_gradients(block):
    torch.manual_seed(0)
    module = block().double().train()
    x = torch.randn(2, 2, 2, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x, ), eps=1e-6, atol=1e-5)


def test_in_place_leaky_relu_of_the_feature_cnn_has_correct_gradients():
    torch.manual_seed(0)
    pyramid = FeaturePyramid(channels=(4, 3, 2)).double()
    x = torch.randn(1, 3, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(pyramid.extract, (x, ), eps=1e-6,
                                    atol=1e-5)
    # a negative slope cannot be applied in place under autograd
    negative = FeaturePyramid(channels=(4, 2), negative_slope=-0.1).double()
    assert torch.autograd.gradcheck(negative.extract, (x, ), eps=1e-6,
                                    atol=1e-5)


@pytest.mark.parametrize('quirks', [False, True])
def test_network_outputs_the_same_with_and_without_autograd(quirks):
    torch.manual_seed(0)
    core = CVPMVSNetCore(num_levels=2, num_initial_planes=4,
                         residual_interval='epipolar',
                         reference_quirks=quirks).eval()
    imgs = torch.rand(1, 3, 3, 16, 16)
    intrinsics = torch.tensor([[20.0, 0, 7.5], [0, 20.0, 7.5],
                               [0, 0, 1]]).expand(1, 3, 3, 3)
    extrinsics = torch.eye(4).repeat(1, 3, 1, 1)
    extrinsics[0, 1, 0, 3] = -1.0
    extrinsics[0, 2, 0, 3] = 1.0
    args = (imgs, intrinsics, extrinsics, torch.tensor([5.0]),
            torch.tensor([10.0]))
    with_grad = core(*args)
    with torch.no_grad():
        without = core(*args)
    for a, b in zip(with_grad['depths'], without['depths']):
        assert torch.equal(a.detach(), b)
    assert torch.equal(with_grad['confidence'], without['confidence'])
