"""An infinite 1:1 labelled / unlabelled index stream for active learning.

Every batch of the semi-supervised training in Elezi et al. (CVPR 2022,
arXiv 2106.11921, Sec. 3.1, after CSD) holds as many labelled as unlabelled
images (pseudo-labelled images are drawn on the unlabelled side). Each side
is an endless chain of seeded permutations; pair ``k`` is the ``k``-th item
of both chains, and rank ``r`` of ``W`` takes the pairs ``k = r, r + W,
...`` so every rank's batches stay balanced. Any position of the stream is
computed directly, so a resumed run skips what was trained without loading
it.
"""
from typing import Iterator, Optional, Sequence, Tuple

import torch
from mmengine.dist import get_dist_info
from torch.utils.data import Sampler


class _PermutationChain:
    """Item ``k`` of an endless chain of seeded permutations of ``items``."""

    def __init__(self, items: Sequence[int], seed: int) -> None:
        self.items = torch.as_tensor(list(items), dtype=torch.long)
        self.seed = seed
        self._cached: Tuple[int, Optional[torch.Tensor]] = (-1, None)

    def __getitem__(self, k: int) -> int:
        epoch, offset = divmod(k, len(self.items))
        if self._cached[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 100003 +
                                                      epoch)
            order = torch.randperm(len(self.items), generator=generator)
            self._cached = (epoch, self.items[order])
        return int(self._cached[1][offset])


class BalancedPoolSampler(Sampler):
    """Alternating labelled and unlabelled indices, forever.

    Args:
        labelled: Dataset indices of the labelled side (labelled images).
        unlabelled: Dataset indices of the unlabelled side (pseudo-labelled
            and unlabelled images); when empty, the stream is labelled only.
        seed: Seed of both chains (the loop passes one per cycle).
        start: Items of this rank's stream to skip (a resumed run passes
            iterations done x batch size).
        rank: This process's rank (default: from ``torch.distributed``).
        world_size: Number of processes (default: from
            ``torch.distributed``).
    """

    def __init__(self,
                 labelled: Sequence[int],
                 unlabelled: Sequence[int],
                 seed: int,
                 start: int = 0,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        if len(labelled) == 0:
            raise ValueError('the labelled side of the pool is empty; set '
                             'train_cfg.initial_labeled to at least 1')
        default_rank, default_world = get_dist_info()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_world if world_size is None else world_size
        self.start = start
        self.balanced = len(unlabelled) > 0
        self._labelled = _PermutationChain(labelled, 2 * seed)
        self._unlabelled = (_PermutationChain(unlabelled, 2 * seed + 1)
                            if self.balanced else None)

    def item(self, j: int) -> int:
        """Item ``j`` of this rank's stream."""
        if not self.balanced:
            return self._labelled[self.rank + self.world_size * j]
        pair, side = divmod(j, 2)
        k = self.rank + self.world_size * pair
        return self._labelled[k] if side == 0 else self._unlabelled[k]

    def __iter__(self) -> Iterator[int]:
        j = self.start
        while True:
            yield self.item(j)
            j += 1

    def __len__(self) -> int:
        # Infinite; the loop decides when a cycle ends. A length is needed
        # by DataLoader's bookkeeping only.
        return 2**62
