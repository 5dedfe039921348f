"""EPI's similarity, score, trigger and dominant sub-network."""
import pytest
import torch

from mmext.pruning.epi import architecture, architecture_similarity, \
    epi_score, global_ratio_masks, should_prune
from mmext.pruning.graph import ChannelGroup


def test_similarity_formula():
    assert architecture_similarity([4, 8], [4, 8]) == 1.0
    # d = (|4-2|/6 + |8-8|/16 + 0) / 3 with the 0/0 group counted as 0
    assert architecture_similarity([4, 8, 0], [2, 8, 0]) == pytest.approx(
        1 - (2 / 6) / 3)
    with pytest.raises(ValueError, match='same model'):
        architecture_similarity([1], [1, 2])


def test_epi_is_the_mean_similarity_to_the_window():
    history = [[10, 10], [8, 10], [6, 10], [6, 9]]
    expected = (architecture_similarity([6, 9], [6, 10]) +
                architecture_similarity([6, 9], [8, 10])) / 2
    assert epi_score(history, window=2) == pytest.approx(expected)
    with pytest.raises(ValueError, match='needs 4'):
        epi_score(history[:3], window=3)


def test_trigger_needs_tau_and_a_rising_score():
    assert not should_prune([0.9, 0.95, 0.99], tau=0.983, patience=5)
    scores = [0.90, 0.91, 0.92, 0.93, 0.94, 0.985]
    assert should_prune(scores, tau=0.983, patience=5)
    assert not should_prune(scores[:-1] + [0.95], tau=0.983, patience=5)
    assert not should_prune([0.99, 0.9, 0.9, 0.9, 0.9, 0.985], tau=0.983,
                            patience=5)
    # a saturated indicator (the architecture stopped changing) fires
    assert should_prune([1.0] * 6, tau=0.983, patience=5)
    assert not should_prune([0.97] * 6, tau=0.983, patience=5)
    # the strict wording: a plateau never fires, a rise does
    assert not should_prune([1.0] * 6, tau=0.983, patience=5, strict=True)
    assert should_prune(scores, tau=0.983, patience=5, strict=True)
    assert not should_prune(scores[:-2] + [0.985, 0.985], tau=0.983,
                            patience=5, strict=True)


def test_global_ranking_removes_the_lowest_scores_across_groups():
    groups = [ChannelGroup('a', 4), ChannelGroup('b', 4)]
    saliency = {'a': torch.tensor([1., 2., 3., 4.]),
                'b': torch.tensor([0.1, 0.2, 0.3, 5.])}
    keep = global_ratio_masks(groups, saliency, 0.5)
    assert keep['a'].tolist() == [False, True, True, True]
    assert keep['b'].tolist() == [False, False, False, True]
    assert architecture(groups, keep) == [3, 1]
    # every group keeps its best channel
    keep = global_ratio_masks(groups, saliency, 0.9)
    assert architecture(groups, keep) == [1, 1]
    assert keep['b'].tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match='pruned_ratio'):
        global_ratio_masks(groups, saliency, 1.0)


def test_normalized_l2_concatenates_the_coupled_producers():
    from mmext.pruning.graph import build_channel_groups, example_inputs
    from mmext.pruning.importance import normalized_l2_saliency
    from ._models import resnet18_classifier
    model = resnet18_classifier(width=8)
    groups = build_channel_groups(model, example_inputs(model, (3, 32, 32)))
    scores = normalized_l2_saliency(model, groups)
    # the stem's stream: conv1 and the second conv of both layer1 blocks
    stream = next(g for g in groups if g.key == 'backbone.conv1')
    names = sorted(m.name for m in stream.producers)
    assert names == [
        'backbone.conv1', 'backbone.layer1.0.conv2', 'backbone.layer1.1.conv2'
    ]
    rows = torch.cat([
        model.get_submodule(n).weight.detach().flatten(1) for n in names
    ], dim=1)  # [C, P], the channel's concatenated filters
    expected = rows.norm(dim=1) / rows.shape[1]**0.5
    torch.testing.assert_close(scores['backbone.conv1'], expected)
    # a single-producer group
    conv = model.backbone.layer2[0].conv1.weight.detach().flatten(1)
    torch.testing.assert_close(scores['backbone.layer2.0.conv1'],
                               conv.norm(dim=1) / conv.shape[1]**0.5)
