"""The 1:1 labelled / unlabelled stream of active learning."""
import itertools

import pytest

from mmext.datasets.samplers.balanced_pool_sampler import BalancedPoolSampler

LABELLED = [0, 1, 2]
UNLABELLED = [3, 4, 5, 6, 7, 8, 9]


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_alternates_and_covers_each_side_every_epoch():
    stream = take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=0,
                                      rank=0, world_size=1), 42)
    assert all(i in LABELLED for i in stream[0::2])
    assert all(i in UNLABELLED for i in stream[1::2])
    # Each side is a chain of permutations: every window of one epoch holds
    # each index once.
    labelled, unlabelled = stream[0::2], stream[1::2]
    for start in range(0, 21, 3):
        assert sorted(labelled[start:start + 3]) == LABELLED
    for start in range(0, 21, 7):
        assert sorted(unlabelled[start:start + 7]) == UNLABELLED


def test_seeded_and_resumable_at_any_position():
    full = take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=5, rank=0,
                                    world_size=1), 30)
    assert full == take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=5,
                                            rank=0, world_size=1), 30)
    assert full != take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=6,
                                            rank=0, world_size=1), 30)
    resumed = take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=5,
                                       start=13, rank=0, world_size=1), 17)
    assert resumed == full[13:]


def test_ranks_split_the_pairs_and_stay_balanced():
    single = take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=1, rank=0,
                                      world_size=1), 24)
    pairs = [tuple(single[i:i + 2]) for i in range(0, 24, 2)]
    ranks = [take(BalancedPoolSampler(LABELLED, UNLABELLED, seed=1, rank=r,
                                      world_size=2), 12) for r in (0, 1)]
    for rank, stream in enumerate(ranks):
        assert [tuple(stream[i:i + 2]) for i in range(0, 12, 2)] == \
            pairs[rank::2]


def test_no_unlabelled_side_streams_labelled_only():
    stream = take(BalancedPoolSampler(LABELLED, [], seed=0, rank=0,
                                      world_size=1), 6)
    assert sorted(stream[:3]) == LABELLED and sorted(stream[3:]) == LABELLED
    with pytest.raises(ValueError, match='initial_labeled'):
        BalancedPoolSampler([], UNLABELLED, seed=0)
