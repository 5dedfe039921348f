"""RIO's object-centric memory (Chang et al., "Image-Level or Object-Level?
A Tale of Two Resampling Strategies for Long-Tailed Detection", ICML 2021,
arXiv 2104.05702, Sec. 4 and Fig. 3).

One first-in-first-out bank per target class holds detached RoI features
(the box head's last shared-FC output) with their regression targets. At
every training step, for each target class among the batch's sampled RoIs,
the ``replay_size`` most recent entries are **replayed** first; then the
batch's own target-class RoIs are **pushed** (the oldest dropped beyond
``capacity``). Replayed entries therefore come from earlier iterations.
Under DDP, :func:`gather_entries` collects every rank's pushed entries so
that all ranks keep identical banks (those a single process would build
from the union batch, ranks in order).
"""
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple)

import torch
from mmengine.dist import all_gather_object, get_world_size


class ClassMemoryBank:
    """Per-class FIFO banks of RoI features and box targets.

    Args:
        target_classes (Sequence[int]): Classes that get a bank (RIO: the
            rare classes and the common classes with few images).
        feature_dim (int): D, the RoI feature size.
        capacity (int): Entries kept per class (RIO: 60).
        replay_size (int): Entries replayed per present class (RIO: 20);
            0 disables replay.
        target_dim (int): Size of a box target (4 deltas).
    """

    def __init__(self,
                 target_classes: Sequence[int],
                 feature_dim: int,
                 capacity: int = 60,
                 replay_size: int = 20,
                 target_dim: int = 4) -> None:
        if capacity < 1 or not 0 <= replay_size <= capacity:
            raise ValueError(
                f'ClassMemoryBank: need capacity >= 1 and 0 <= replay_size '
                f'<= capacity, got capacity={capacity}, '
                f'replay_size={replay_size}')
        self.target_classes = sorted({int(c) for c in target_classes})
        if not self.target_classes:
            raise ValueError('ClassMemoryBank: no target classes')
        self.feature_dim = feature_dim
        self.target_dim = target_dim
        self.capacity = capacity
        self.replay_size = replay_size
        self.features: Dict[int, torch.Tensor] = {
            c: torch.zeros(0, feature_dim)
            for c in self.target_classes
        }
        self.targets: Dict[int, torch.Tensor] = {
            c: torch.zeros(0, target_dim)
            for c in self.target_classes
        }

    def __len__(self) -> int:
        """Entries over all banks."""
        return sum(len(f) for f in self.features.values())

    def replay(self, present: Iterable[int]
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The most recent entries of each present target class.

        Args:
            present (Iterable[int]): Classes of the batch's sampled RoIs.

        Returns:
            tuple: features [M, D], labels [M] (long), box targets
            [M, target_dim]; classes in ascending order, each class's
            entries oldest first. Empty when nothing is banked.
        """
        wanted = sorted({int(c) for c in present} & set(self.features))
        feats: List[torch.Tensor] = []
        targets: List[torch.Tensor] = []
        labels: List[torch.Tensor] = []
        for c in wanted:
            n = min(self.replay_size, len(self.features[c]))
            if n == 0:
                continue
            feats.append(self.features[c][-n:])
            targets.append(self.targets[c][-n:])
            labels.append(torch.full((n, ), c, dtype=torch.long))
        if not feats:
            return (torch.zeros(0, self.feature_dim),
                    torch.zeros(0, dtype=torch.long),
                    torch.zeros(0, self.target_dim))
        return torch.cat(feats), torch.cat(labels), torch.cat(targets)

    def is_banked(self, labels: torch.Tensor) -> torch.Tensor:
        """Boolean mask [R] of the labels that have a bank."""
        classes = torch.tensor(self.target_classes, device=labels.device)
        return torch.isin(labels, classes)

    def push(self, features: torch.Tensor, labels: torch.Tensor,
             targets: torch.Tensor) -> None:
        """Bank the target-class RoIs of a batch (detached, on the CPU).

        Args:
            features (Tensor): [R, D].
            labels (Tensor): [R]; RoIs of other classes (and background)
                are ignored.
            targets (Tensor): [R, target_dim].
        """
        if not (len(features) == len(labels) == len(targets)):
            raise ValueError('ClassMemoryBank.push: features, labels and '
                             'targets differ in length')
        features = features.detach().float().cpu()
        targets = targets.detach().float().cpu()
        labels = labels.detach().cpu()
        for c in self.target_classes:
            keep = labels == c
            if not bool(keep.any()):
                continue
            self.features[c] = torch.cat(
                (self.features[c], features[keep]))[-self.capacity:]
            self.targets[c] = torch.cat(
                (self.targets[c], targets[keep]))[-self.capacity:]

    def step(self,
             features: torch.Tensor,
             labels: torch.Tensor,
             targets: torch.Tensor,
             gather: Optional[Callable] = None
             ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """RIO's order for one batch: replay, then push; returns the
        replayed entries (see :meth:`replay`).

        Args:
            features, labels, targets: As in :meth:`push`.
            gather (Callable, optional): Maps this batch's target-class
                entries to those to push, e.g. :func:`gather_entries` for
                every rank's under DDP.
        """
        replayed = self.replay(labels.tolist())
        banked = self.is_banked(labels)
        entries = (features[banked], labels[banked], targets[banked])
        self.push(*(gather(*entries) if gather is not None else entries))
        return replayed

    def state_dict(self) -> torch.Tensor:
        """The banks as one tensor [N, 1 + D + target_dim]: per entry its
        class, feature and box target; classes ascending, each class's
        entries oldest first.

        One tensor rather than a dict because MMEngine broadcasts every
        entry of a model's state dict as a tensor when DDP training starts.
        """
        rows = [
            torch.cat((torch.full((len(self.features[c]), 1), float(c)),
                       self.features[c], self.targets[c]), dim=1)
            for c in self.target_classes
        ]
        return torch.cat(rows) if rows else empty_bank_state(
            self.feature_dim, self.target_dim)

    def load_state_dict(self, state: torch.Tensor) -> None:
        """Restore :meth:`state_dict` output (the newest ``capacity``
        entries of each class are kept)."""
        width = 1 + self.feature_dim + self.target_dim
        if state.dim() != 2 or state.shape[1] != width:
            raise ValueError(
                'ClassMemoryBank.load_state_dict: expected banks of shape '
                f'[N, {width}] (class, {self.feature_dim} features, '
                f'{self.target_dim} targets), got {tuple(state.shape)}')
        classes = state[:, 0].long()
        unknown = sorted(set(classes.tolist()) - set(self.target_classes))
        if unknown:
            raise ValueError(
                f'ClassMemoryBank.load_state_dict: the checkpoint banks '
                f'classes {unknown[:10]} that this model does not; resume '
                'with the same target classes')
        for c in self.target_classes:
            rows = state[classes == c][-self.capacity:].float()
            self.features[c] = rows[:, 1:1 + self.feature_dim].clone()
            self.targets[c] = rows[:, 1 + self.feature_dim:].clone()


def empty_bank_state(feature_dim: int, target_dim: int) -> torch.Tensor:
    """A :meth:`ClassMemoryBank.state_dict` with no entries,
    [0, 1 + feature_dim + target_dim]."""
    return torch.zeros(0, 1 + feature_dim + target_dim)


def gather_entries(features: torch.Tensor, labels: torch.Tensor,
                   targets: torch.Tensor
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every rank's entries to push, concatenated in rank order.

    Args:
        features (Tensor): This rank's [R, D] features.
        labels (Tensor): [R] classes.
        targets (Tensor): [R, T] box targets.

    Returns:
        tuple: detached CPU features [sum R, D], labels [sum R] and targets
        [sum R, T]; this rank's own entries when not distributed.
    """
    local = (features.detach().float().cpu(), labels.detach().cpu(),
             targets.detach().float().cpu())
    if get_world_size() == 1:
        return local
    ranks = all_gather_object(local)
    return tuple(torch.cat(parts) for parts in zip(*ranks))
