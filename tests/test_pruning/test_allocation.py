"""One HALP pruning step: the knapsack keeps the most salient channels of
each group within the latency target; the uniform baseline keeps one width
fraction everywhere."""
import itertools

import torch

from mmext.pruning.allocation import allocate, allocate_uniform, \
    network_latency, smallest_latency
from mmext.pruning.graph import build_channel_groups
from mmext.pruning.masks import full_masks, width_masks
from ._models import resnet18_classifier, synthetic_latency_model

SHAPE = (3, 32, 32)
BLOCK = 4


def _setup():
    model = resnet18_classifier(width=8)
    x = torch.randn(1, *SHAPE)
    groups = build_channel_groups(model, x)
    latency = synthetic_latency_model(model, batch=4, step=BLOCK)
    gen = torch.Generator().manual_seed(0)
    saliency = {
        g.key: torch.rand(g.num_channels, generator=gen)
        for g in groups
    }
    return groups, latency, saliency


def test_knapsack_step_meets_the_target_with_the_most_salient_channels():
    groups, latency, saliency = _setup()
    keep = full_masks(groups)
    dense = network_latency(groups, keep, latency)
    result = allocate(groups, keep, saliency, 0.6 * dense, BLOCK, latency)
    assert result.met_target
    assert result.latency <= 0.6 * dense
    assert result.latency == network_latency(groups, result.keep, latency)
    for group in groups:
        kept = result.keep[group.key]
        assert kept.sum() >= 1
        # kept channels are the top-saliency ones
        if (~kept).any():
            assert saliency[group.key][kept].min() >= \
                saliency[group.key][~kept].max()
    # pruned channels never come back
    second = allocate(groups, result.keep, saliency, 0.9 * dense, BLOCK,
                      latency)
    for key, mask in second.keep.items():
        assert not (mask & ~result.keep[key]).any()


def test_knapsack_step_beats_every_uniform_choice_on_saliency():
    groups, latency, saliency = _setup()
    keep = full_masks(groups)
    dense = network_latency(groups, keep, latency)
    target = 0.5 * dense
    halp = allocate(groups, keep, saliency, target, BLOCK, latency)
    uniform = allocate_uniform(groups, keep, saliency, target, BLOCK,
                               latency)
    assert uniform.latency <= target

    def kept_saliency(masks):
        return sum(float(saliency[k][m].sum()) for k, m in masks.items())

    assert kept_saliency(halp.keep) >= kept_saliency(uniform.keep)
    fractions = {
        round(float(m.float().mean()) * 8) / 8
        for m in uniform.keep.values()
    }
    assert len(fractions) <= 2  # one width fraction, up to block rounding


def test_unreachable_target_keeps_one_block_and_says_so():
    groups, latency, saliency = _setup()
    import pytest
    with pytest.warns(UserWarning, match='below'):
        result = allocate(groups, full_masks(groups), saliency, 1e-9, BLOCK,
                          latency)
    assert not result.met_target
    assert all(int(m.sum()) == BLOCK for m in result.keep.values())
    assert list(itertools.islice(result.blocks, 3)) == [1, 1, 1]


def test_network_latency_is_the_latency_models_sum():
    groups, latency, _ = _setup()
    dense = latency.predict()
    assert network_latency(groups, full_masks(groups), latency) == dense
    floor = smallest_latency(groups, latency, BLOCK)
    # one block of every group left: far below the dense latency
    assert 0 < floor < 0.5 * dense
    keep = width_masks(groups, {g.key: BLOCK for g in groups})
    assert floor == network_latency(groups, keep, latency)
