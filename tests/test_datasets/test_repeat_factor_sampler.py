"""RIO's image-level resampling: repeat factors against the formula, the
sampler's per-epoch counts against the factors, determinism, and 2-process
slices that are disjoint and cover the epoch."""
import json
import math

import numpy as np
import pytest

from mmext.datasets import compute_repeat_factors
from mmext.datasets.samplers import RepeatFactorSampler
from mmext.testing import run_distributed

# 10 images; class 0 is everywhere, 1 in 4 images, 2 in 1, 3 in 2.
CATS = [[0], [0, 1], [0, 1, 1], [0, 1], [0, 2, 0], [0], [0, 3], [3, 0],
        [0], []]


class _Dataset:

    def __init__(self, cats=CATS):
        self.cats = cats

    def __len__(self):
        return len(self.cats)

    def get_cat_ids(self, idx):
        return self.cats[idx]


def test_repeat_factors_match_the_formula():
    t = 0.5
    factors = compute_repeat_factors(CATS, t)
    # f(c): fraction of the 10 images holding c.
    f = {0: 0.9, 1: 0.3, 2: 0.1, 3: 0.2}
    r = {c: max(1.0, math.sqrt(t / fc)) for c, fc in f.items()}
    expected = [max([r[c] for c in cats], default=1.0) for cats in CATS]
    np.testing.assert_allclose(factors, expected)
    assert factors[9] == 1.0  # no annotations
    assert factors[4] == pytest.approx(math.sqrt(5))
    np.testing.assert_allclose(compute_repeat_factors(CATS, 1e-3), 1.0)
    with pytest.raises(ValueError, match='repeat_thr'):
        compute_repeat_factors(CATS, 0)


def test_mean_counts_follow_the_repeat_factors():
    sampler = RepeatFactorSampler(_Dataset(), repeat_thr=0.5, seed=3)
    counts = np.zeros(len(CATS))
    epochs = 2000
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert len(indices) == len(sampler)
        counts += np.bincount(indices, minlength=len(CATS))
        # floor(r) or floor(r) + 1 copies of every image.
        per_epoch = np.bincount(indices, minlength=len(CATS))
        assert np.all(per_epoch >= np.floor(sampler.repeat_factors))
        assert np.all(per_epoch <= np.floor(sampler.repeat_factors) + 1)
    np.testing.assert_allclose(
        counts / epochs, sampler.repeat_factors, rtol=0.02)


def test_deterministic_for_seed_and_epoch():
    a = RepeatFactorSampler(_Dataset(), repeat_thr=0.5, seed=1)
    b = RepeatFactorSampler(_Dataset(), repeat_thr=0.5, seed=1)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b)
    b.set_epoch(5)
    assert list(a) != list(b)
    ordered = RepeatFactorSampler(
        _Dataset(), repeat_thr=0.5, seed=1, shuffle=False)
    assert list(ordered) == sorted(ordered)


def test_dataset_without_categories_is_a_clear_error():
    with pytest.raises(TypeError, match='get_cat_ids'):
        RepeatFactorSampler(list(range(5)), repeat_thr=0.5, seed=0)


def _rank_slices(rank, world_size):
    sampler = RepeatFactorSampler(_Dataset(), repeat_thr=0.5, seed=7)
    slices = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        slices.append((list(sampler), sampler.epoch_indices(epoch)))
    return slices


def test_two_ranks_split_the_epoch():
    ranks = run_distributed(_rank_slices, world_size=2)
    for epoch in range(3):
        (first, full), (second, full_again) = ranks[0][epoch], ranks[1][
            epoch]
        assert full == full_again  # every rank builds the same epoch
        assert len(first) == len(second) == math.ceil(len(full) / 2)
        merged = [i for pair in zip(first, second) for i in pair]
        # Interleaving the slices gives the epoch back, padded with its
        # first index when it has an odd length.
        assert merged[:len(full)] == full
        assert merged[len(full):] == full[:len(merged) - len(full)]


def test_built_from_a_config_like_the_runner_does():
    from mmext.registry import DATA_SAMPLERS
    sampler = DATA_SAMPLERS.build(
        dict(type='mmext.RepeatFactorSampler', repeat_thr=0.5),
        default_args=dict(dataset=_Dataset(), seed=11))
    assert isinstance(sampler, RepeatFactorSampler) and sampler.seed == 11
    assert sum(1 for _ in sampler) == len(sampler) >= len(CATS)


def test_on_a_generated_lvis_long_tail_dataset(shapes_tiny_long_tail):
    """The sampler over mmdet's LVISV1Dataset reading the long-tailed Shapes
    files: images of the rarest classes repeat, head-only images do not."""
    from mmdet.datasets import LVISV1Dataset

    root = shapes_tiny_long_tail
    with open(f'{root}/annotations/lvis_v1_train.json') as handle:
        ann = json.load(handle)
    dataset = LVISV1Dataset(
        data_root=root,
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img='img_dir/'),
        metainfo=dict(classes=tuple(
            c['name'] for c in sorted(ann['categories'],
                                      key=lambda c: c['id']))),
        pipeline=[])
    thr = 0.3
    sampler = RepeatFactorSampler(dataset, repeat_thr=thr, seed=0)
    fraction = np.zeros(len(ann['categories']))
    for i in range(len(dataset)):
        for c in set(dataset.get_cat_ids(i)):
            fraction[c] += 1 / len(dataset)
    expected = [
        max([max(1.0, math.sqrt(thr / fraction[c]))
             for c in dataset.get_cat_ids(i)], default=1.0)
        for i in range(len(dataset))
    ]
    np.testing.assert_allclose(sampler.repeat_factors, expected)
    assert sampler.repeat_factors.max() > 1.0  # the tail is oversampled
    assert len(sampler) >= len(dataset)
