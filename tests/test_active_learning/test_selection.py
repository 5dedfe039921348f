"""Selection rules of AL-SSL (Elezi et al., CVPR 2022, arXiv 2106.11921)
on a fixed 8-image score table with hand-computed picks."""
import pytest
import torch

from mmext.active_learning import RULES, select

ENTROPY = torch.tensor([0.9, 0.1, 0.8, 0.7, 0.2, 0.6, 0.3, 0.5])
INCONSISTENCY = torch.tensor([0.1, 0.9, 0.4, 0.3, 0.8, 0.6, 0.2, 0.7])
SCORES = {'entropy': ENTROPY, 'inconsistency': INCONSISTENCY}


def test_rules():
    assert RULES == ('random', 'entropy', 'inconsistency', 'filter',
                     'product')


def test_single_score_rules_take_the_top():
    ours = select(SCORES, 3, 'entropy')
    assert ours.dtype == torch.int64
    assert ours.tolist() == [0, 2, 3]
    assert select(SCORES, 3, 'inconsistency').tolist() == [1, 4, 7]
    # Only the score the rule reads is needed.
    assert select({'entropy': ENTROPY}, 1, 'entropy').tolist() == [0]


def test_filter_picks_the_most_inconsistent_of_the_most_uncertain():
    # Default filter_num = 3 * 2 = 6: candidates 0, 2, 3, 5, 7, 6 by
    # entropy; 1 and 4, the most inconsistent, are filtered out. The
    # candidates' inconsistencies: 7 (0.7), 5 (0.6), 2 (0.4), ...
    assert select(SCORES, 2, 'filter').tolist() == [7, 5]
    # filter_num = 3: candidates 0, 2, 3 -> 2 (0.4), 3 (0.3).
    assert select(SCORES, 2, 'filter', filter_num=3).tolist() == [2, 3]
    # filter_num = budget: the top entropy, reordered by inconsistency.
    assert select(SCORES, 2, 'filter', filter_num=2).tolist() == [2, 0]
    # filter_num above N is capped: plain inconsistency ranking.
    assert select(SCORES, 2, 'filter', filter_num=100).tolist() == [1, 4]


def test_product_ranks_entropy_times_inconsistency():
    # Products: 0.09, 0.09, 0.32, 0.21, 0.16, 0.36, 0.06, 0.35; positions
    # 0 and 1 tie, the lower first.
    assert select(SCORES, 8, 'product').tolist() == [5, 7, 2, 3, 4, 0, 1, 6]
    assert select(SCORES, 2, 'product').tolist() == [5, 7]


def test_ties_keep_the_lower_position_first():
    entropy = torch.tensor([0.5, 0.9, 0.5, 0.9, 0.5])
    assert select({'entropy': entropy}, 5, 'entropy').tolist() == \
        [1, 3, 0, 2, 4]
    # Candidates by entropy are 3, 2, 1; equal inconsistencies keep the
    # position order, not the entropy order.
    scores = {
        'entropy': torch.tensor([0.1, 0.7, 0.8, 0.9]),
        'inconsistency': torch.full((4, ), 0.5)
    }
    assert select(scores, 2, 'filter', filter_num=3).tolist() == [1, 2]


def test_random_is_reproducible_without_repeats():
    first = select(SCORES, 5, 'random',
                   generator=torch.Generator().manual_seed(3))
    again = select(SCORES, 5, 'random',
                   generator=torch.Generator().manual_seed(3))
    assert first.tolist() == again.tolist()
    assert first.dtype == torch.int64
    assert len(set(first.tolist())) == 5
    assert all(0 <= i < 8 for i in first.tolist())
    expected = torch.randperm(8, generator=torch.Generator().manual_seed(3))
    assert first.tolist() == expected[:5].tolist()
    whole = select({'entropy': ENTROPY}, 8, 'random',
                   generator=torch.Generator().manual_seed(0))
    assert sorted(whole.tolist()) == list(range(8))


def test_errors_name_the_config_field():
    with pytest.raises(ValueError,
                       match='train_cfg.budget=9: only 8 images are left'):
        select(SCORES, 9, 'entropy')
    with pytest.raises(ValueError, match='train_cfg.budget=0'):
        select(SCORES, 0, 'entropy')
    with pytest.raises(ValueError, match="acquisition.rule='margin'"):
        select(SCORES, 2, 'margin')
    with pytest.raises(ValueError, match="'inconsistency'"):
        select({'entropy': ENTROPY}, 2, 'filter')
    with pytest.raises(ValueError, match="'entropy'"):
        select({'inconsistency': INCONSISTENCY}, 2, 'product')
    with pytest.raises(ValueError, match='acquisition.filter_num=1'):
        select(SCORES, 2, 'filter', filter_num=1)
    with pytest.raises(ValueError, match='no image scores'):
        select({}, 1, 'random')
    with pytest.raises(ValueError, match='shapes'):
        select({'entropy': ENTROPY, 'inconsistency': INCONSISTENCY[:4]}, 2,
               'product')
