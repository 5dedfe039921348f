"""One HALP pruning step: the knapsack keeps the most salient channels of
each group within the latency target; the uniform baseline keeps one width
fraction everywhere."""
import itertools

import torch

from mmext.pruning.allocation import allocate, allocate_uniform, \
    network_latency
from mmext.pruning.graph import build_channel_groups
from mmext.pruning.masks import full_masks
from mmext.pruning.signatures import scope_signatures
from ._models import resnet18_classifier, synthetic_lut

SHAPE = (3, 32, 32)
BLOCK = 4


def _setup():
    model = resnet18_classifier(width=8)
    x = torch.randn(1, *SHAPE)
    groups = build_channel_groups(model, x)
    signatures = scope_signatures(model, None, x, batch=4)
    lut = synthetic_lut(signatures, batch=4, step=BLOCK)
    gen = torch.Generator().manual_seed(0)
    saliency = {
        g.key: torch.rand(g.num_channels, generator=gen)
        for g in groups
    }
    return groups, signatures, lut, saliency


def test_knapsack_step_meets_the_target_with_the_most_salient_channels():
    groups, signatures, lut, saliency = _setup()
    keep = full_masks(groups)
    dense = network_latency(groups, keep, signatures, lut)
    result = allocate(groups, keep, saliency, 0.6 * dense, BLOCK,
                      signatures, lut)
    assert result.met_target
    assert result.latency <= 0.6 * dense
    assert result.latency == network_latency(groups, result.keep, signatures,
                                             lut)
    for group in groups:
        kept = result.keep[group.key]
        assert kept.sum() >= 1
        # kept channels are the top-saliency ones
        if (~kept).any():
            assert saliency[group.key][kept].min() >= \
                saliency[group.key][~kept].max()
    # pruned channels never come back
    second = allocate(groups, result.keep, saliency, 0.9 * dense, BLOCK,
                      signatures, lut)
    for key, mask in second.keep.items():
        assert not (mask & ~result.keep[key]).any()


def test_knapsack_step_beats_every_uniform_choice_on_saliency():
    groups, signatures, lut, saliency = _setup()
    keep = full_masks(groups)
    dense = network_latency(groups, keep, signatures, lut)
    target = 0.5 * dense
    halp = allocate(groups, keep, saliency, target, BLOCK, signatures, lut)
    uniform = allocate_uniform(groups, keep, saliency, target, BLOCK,
                               signatures, lut)
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
    groups, signatures, lut, saliency = _setup()
    import pytest
    with pytest.warns(UserWarning, match='below'):
        result = allocate(groups, full_masks(groups), saliency, 1e-9, BLOCK,
                          signatures, lut)
    assert not result.met_target
    assert all(int(m.sum()) == BLOCK for m in result.keep.values())
    assert list(itertools.islice(result.blocks, 3)) == [1, 1, 1]
