"""Variance cost volume, soft-argmin, photometric confidence and the
multi-level loss on hand-made inputs."""
import pytest
import torch
import torch.nn.functional as F

from mmext.models.mvs import (CostRegularization3D, FeaturePyramid,
                              multi_level_depth_loss, photometric_confidence,
                              soft_argmin, variance_volume)


def _views(seed=0):
    gen = torch.Generator().manual_seed(seed)
    ref = torch.randn(2, 4, 5, 6, generator=gen)
    warped = [torch.randn(2, 4, 3, 5, 6, generator=gen) for _ in range(3)]
    return ref, warped


def test_variance_volume_is_the_population_variance_over_views():
    ref, warped = _views()
    stacked = torch.stack([ref.unsqueeze(2).expand_as(warped[0])] + warped)
    expected = stacked.var(dim=0, unbiased=False)
    torch.testing.assert_close(variance_volume(ref, warped), expected,
                               atol=1e-5, rtol=1e-5)
    # A generator is consumed once, keeping only running sums.
    torch.testing.assert_close(variance_volume(ref, iter(warped)), expected,
                               atol=1e-5, rtol=1e-5)


def test_variance_volume_reference_quirk_uses_ref_squared_in_the_mean():
    ref, warped = _views(1)
    ref_volume = ref.unsqueeze(2)
    count = 1 + len(warped)
    mean_term = (ref_volume**2 + sum(warped)) / count
    square_term = (ref_volume**2 + sum(w**2 for w in warped)) / count
    quirk = variance_volume(ref, warped, reference_quirk=True)
    torch.testing.assert_close(quirk, square_term - mean_term**2)
    assert not torch.allclose(quirk, variance_volume(ref, warped))


def test_variance_volume_needs_a_source_view():
    with pytest.raises(ValueError, match='at least one source view'):
        variance_volume(torch.zeros(1, 2, 3, 3), [])


def test_soft_argmin_of_one_hot_and_uniform_distributions():
    planes = torch.tensor([[1.0, 2.0, 4.0, 8.0, 16.0, 32.0]])
    one_hot = F.one_hot(torch.tensor([[[0, 3], [5, 2]]]), 6)  # [1, 2, 2, 6]
    prob = one_hot.permute(0, 3, 1, 2).float()
    torch.testing.assert_close(soft_argmin(prob, planes),
                               torch.tensor([[[1.0, 8.0], [32.0, 4.0]]]))
    uniform = torch.full((1, 6, 2, 2), 1 / 6)
    torch.testing.assert_close(soft_argmin(uniform, planes),
                               torch.full((1, 2, 2), 63 / 6))
    per_pixel = torch.arange(24.0).view(1, 6, 2, 2)
    torch.testing.assert_close(soft_argmin(prob, per_pixel),
                               torch.tensor([[[0.0, 13.0], [22.0, 11.0]]]))


def test_photometric_confidence_on_hand_made_distributions():
    depth_planes = 8
    one_hot = F.one_hot(torch.tensor([[[0, 3, 7]]]), depth_planes)
    prob = one_hot.permute(0, 3, 1, 2).float()  # [1, 8, 1, 3]
    torch.testing.assert_close(photometric_confidence(prob),
                               torch.ones(1, 1, 3))
    uniform = torch.full((1, depth_planes, 1, 1), 1 / depth_planes)
    # index 3.5 -> 3; window 2..5
    torch.testing.assert_close(photometric_confidence(uniform),
                               torch.full((1, 1, 1), 4 / depth_planes))
    two = torch.zeros(1, depth_planes, 1, 3)
    two[0, 0, 0, 0], two[0, 6, 0, 0] = 0.1, 0.9  # index 5.4 -> 5: 4..7
    two[0, 1, 0, 1], two[0, 7, 0, 1] = 0.5, 0.5  # index 4 -> 4: 3..6
    two[0, 2, 0, 2], two[0, 5, 0, 2] = 0.6, 0.4  # index 3.2 -> 3: 2..5
    torch.testing.assert_close(photometric_confidence(two),
                               torch.tensor([[[0.9, 0.0, 1.0]]]))


def test_multi_level_depth_loss_masks_by_the_sample_threshold():
    est = [torch.tensor([[[1.0, 2.0], [3.0, 9.0]], [[0.0, 0.0], [0.0, 5.0]]]),
           torch.tensor([[[4.0]], [[2.0]]])]
    gt = [torch.tensor([[[1.5, 0.0], [5.0, 9.0]], [[7.0, 7.0], [1.0, 5.0]]]),
          torch.tensor([[[4.5]], [[2.0]]])]
    valid_min = torch.tensor([0.5, 2.0])
    loss = multi_level_depth_loss(est, gt, valid_min)
    # level 0: valid (1.5, 5.0, 9.0) and (7.0, 7.0, 5.0): errors
    # 0.5 -> 0.125, 2 -> 1.5, 0, 7 -> 6.5, 7 -> 6.5, 0
    level0 = (0.125 + 1.5 + 0 + 6.5 + 6.5 + 0) / 6
    level1 = 0.125  # sample 1's gt 2.0 is not above 2.0
    torch.testing.assert_close(loss, torch.tensor(level0 + level1))


def test_multi_level_depth_loss_without_valid_pixels_is_zero_with_a_graph():
    est = torch.full((1, 2, 2), 3.0, requires_grad=True)
    gt = torch.tensor([[[0.0, float('nan')], [1.0, 0.0]]])
    loss = multi_level_depth_loss([est], [gt], torch.tensor([2.0]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(est.grad, torch.zeros_like(est))
    with pytest.raises(ValueError, match='level 0 has shape'):
        multi_level_depth_loss([est], [gt[:, :1]], torch.tensor([2.0]))


def test_feature_pyramid_levels_and_shared_weights():
    net = FeaturePyramid()
    assert [c.out_channels for c in net.convs] == [64, 64, 64, 32, 32, 32,
                                                   16, 16, 16]
    images = torch.rand(2, 3, 16, 24)
    levels = net(images, 3)
    assert [tuple(f.shape) for f in levels] == [(2, 16, 16, 24),
                                                (2, 16, 8, 12),
                                                (2, 16, 4, 6)]
    # Level 1 is the same CNN on the 2x2-averaged image.
    half = F.avg_pool2d(images, 2)
    torch.testing.assert_close(levels[1], net.extract(half), atol=1e-6,
                               rtol=1e-5)


def test_cost_regularization_shapes_and_skips():
    net = CostRegularization3D().eval()
    cost = torch.rand(1, 16, 8, 6, 10)
    logits = net(cost)
    assert logits.shape == (1, 8, 6, 10)
    assert net.dec0.deconv.stride == (2, 2, 2)
    assert net.enc1[0].conv.stride == (2, 2, 2)
    assert all(m.bias is None for m in net.modules()
               if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d))
               and m is not net.logits)
    assert net.logits.bias is not None
