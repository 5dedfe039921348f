"""The pruning history kept in checkpoints, and its replay.

A pruned checkpoint must say which channels are gone, so that resuming
continues the schedule with the same masks and ``tools/test.py`` and
``tools/pruning/export_pruned.py`` rebuild the same network. mmext stores the
masks of every pruning step (HALP, Shen et al., arXiv 2110.10811, pickles only
the latest masks next to the run); replaying the history gives the current
masks, and the per-step records (target, predicted latency) document how the
network got there. The method that pruned (``extra['method']``, e.g.
``'halp'`` or ``'epi'``) tells how to replay it: HALP keeps the dense weights
with the pruned channels zeroed, EPI cuts them out mid-training, so its
checkpoints hold the slim weights once it has pruned
(:meth:`PruningRecord.holds_slim_weights`).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

import torch

FORMAT = 'mmext.pruning/1'
#: Methods whose checkpoints hold the slim weights once they have pruned.
SLIMMED_IN_TRAINING = ('epi', )


@dataclass
class PruningStep:
    """One pruning step.

    Attributes:
        step (int): 1-based step index.
        iteration (int): Training iteration after which it ran.
        target (float): Latency target (ms).
        latency (float): Predicted latency after the step (ms).
        keep (dict[str, Tensor]): Group key to bool mask [C].
    """

    step: int
    iteration: int
    target: float
    latency: float
    keep: Dict[str, torch.Tensor]


@dataclass
class PruningRecord:
    """Everything a pruning hook needs to continue or replay a run.

    Attributes:
        group_sizes (dict[str, int]): Group key to channel count, checked on
            replay.
        dense_latency (float, optional): Predicted latency of the dense
            model (ms), the reference of the latency ratio.
        steps (list[PruningStep]): The history, oldest first.
        saliency (dict, optional): Saliency accumulator state.
        extra (dict): Method-specific state: ``method``, the tag of the
            method that pruned (absent in records written before the tag),
            and e.g. EPI's history.
    """

    group_sizes: Dict[str, int]
    dense_latency: Optional[float] = None
    steps: List[PruningStep] = field(default_factory=list)
    saliency: Optional[dict] = None
    extra: dict = field(default_factory=dict)

    @property
    def method(self) -> Optional[str]:
        """The tag of the method that pruned (``'halp'``, ``'epi'``), or
        None for a record written before the tag existed."""
        return self.extra.get('method')

    def holds_slim_weights(self) -> bool:
        """Whether the checkpoint's weights are already cut to
        :meth:`current_keep` (EPI after its pruning) rather than dense with
        the pruned channels zeroed (HALP, or EPI before it pruned)."""
        return self.method in SLIMMED_IN_TRAINING and bool(self.steps)

    def current_keep(self) -> Dict[str, torch.Tensor]:
        """Masks after the last step (all True before the first)."""
        if self.steps:
            return {k: v.clone() for k, v in self.steps[-1].keep.items()}
        return {
            k: torch.ones(n, dtype=torch.bool)
            for k, n in self.group_sizes.items()
        }

    def to_dict(self) -> dict:
        """Plain containers and tensors, for ``torch.save``."""
        return dict(
            format=FORMAT,
            group_sizes=dict(self.group_sizes),
            dense_latency=self.dense_latency,
            steps=[vars(s).copy() for s in self.steps],
            saliency=self.saliency,
            extra=self.extra)

    @classmethod
    def from_dict(cls, state: Mapping) -> 'PruningRecord':
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: If ``state`` is not a record of this format.
        """
        if state.get('format') != FORMAT:
            raise ValueError(
                f'unknown pruning record format {state.get("format")!r}; '
                f'this mmext reads {FORMAT!r}')
        return cls(
            group_sizes=dict(state['group_sizes']),
            dense_latency=state.get('dense_latency'),
            steps=[PruningStep(**s) for s in state.get('steps', [])],
            saliency=state.get('saliency'),
            extra=dict(state.get('extra') or {}))

    def check_groups(self, group_sizes: Mapping[str, int]) -> None:
        """Raise a ValueError naming the differences to the model's groups."""
        if dict(group_sizes) == self.group_sizes:
            return
        mine, theirs = set(self.group_sizes), set(group_sizes)
        resized = sorted(k for k in mine & theirs
                         if self.group_sizes[k] != group_sizes[k])
        raise ValueError(
            'the checkpoint\'s pruning record does not fit this model: '
            f'groups only in the checkpoint {sorted(mine - theirs)}, only '
            f'in the model {sorted(theirs - mine)}, different sizes '
            f'{resized}. Use the model config, scope and ignored_layers the '
            'checkpoint was trained with.')
