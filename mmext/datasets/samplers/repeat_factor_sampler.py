"""``mmext.RepeatFactorSampler``: RIO's image-level resampling (Chang et
al., "Image-Level or Object-Level? A Tale of Two Resampling Strategies for
Long-Tailed Detection", ICML 2021, arXiv 2104.05702), an epoch-based
sampler for MMEngine runners."""
import math
from typing import Iterator, List, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmext.datasets.repeat_factors import (compute_repeat_factors,
                                           stochastic_repeats)
from mmext.registry import DATA_SAMPLERS


def dataset_cat_ids(dataset: Sized) -> List[List[int]]:
    """``dataset.get_cat_ids(i)`` for every image (mmdet/mmext datasets).

    Raises:
        TypeError: The dataset has no ``get_cat_ids``.
    """
    if not callable(getattr(dataset, 'get_cat_ids', None)):
        raise TypeError(
            f'RepeatFactorSampler needs category ids per image: '
            f'{type(dataset).__name__} has no get_cat_ids(idx). Use a '
            'detection dataset (mmdet CocoDataset, LVISDataset, ...) or add '
            'get_cat_ids to it')
    return [list(dataset.get_cat_ids(i)) for i in range(len(dataset))]


@DATA_SAMPLERS.register_module()
class RepeatFactorSampler(Sampler):
    """Each epoch, image ``i`` appears ``floor(r_i)`` times plus once more
    with probability ``frac(r_i)``, shuffled.

    The draw and the shuffle are seeded with ``seed + epoch``, so every rank
    builds the same epoch; it is padded to a multiple of the world size
    (with its first indices, like ``DefaultSampler(round_up=True)``) and
    rank ``k`` takes positions ``k, k + world_size, ...``. The epoch's
    length varies with the draw: :meth:`__len__` is this epoch's (call
    :meth:`set_epoch` first, as ``DistSamplerSeedHook`` does). Iteration
    counts that MMEngine derives from the first epoch's length (ETA,
    ``convert_to_iter_based`` schedules) are therefore approximate.

    Args:
        dataset (Sized): A dataset with ``get_cat_ids(idx)``.
        repeat_thr (float): The threshold ``t`` of
            :func:`mmext.datasets.compute_repeat_factors` (RIO: 0.001).
        shuffle (bool): Shuffle the epoch. Defaults to True.
        seed (int, optional): Same on every rank; None draws a shared one.
    """

    def __init__(self,
                 dataset: Sized,
                 repeat_thr: float = 0.001,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.repeat_factors: np.ndarray = compute_repeat_factors(
            dataset_cat_ids(dataset), repeat_thr)
        self.set_epoch(0)

    def epoch_indices(self, epoch: int) -> List[int]:
        """The whole epoch (all ranks, before padding)."""
        generator = torch.Generator().manual_seed(self.seed + epoch)
        counts = stochastic_repeats(self.repeat_factors, generator)
        indices = torch.repeat_interleave(torch.arange(len(counts)), counts)
        if self.shuffle:
            indices = indices[torch.randperm(len(indices),
                                             generator=generator)]
        return indices.tolist()

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s repeats and order."""
        self.epoch = epoch
        indices = self.epoch_indices(epoch)
        total = math.ceil(len(indices) / self.world_size) * self.world_size
        indices = (indices * (total // len(indices) + 1))[:total]
        self._indices = indices[self.rank::self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices)

    def __len__(self) -> int:
        return len(self._indices)
