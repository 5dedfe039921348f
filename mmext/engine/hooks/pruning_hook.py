"""The lifecycle every mmext pruning hook shares.

:class:`BasePruningHook` wires the pruning core (:mod:`mmext.pruning`) into
the MMEngine runner the same way for every method; a subclass
(:class:`~mmext.engine.hooks.HALPHook`,
:class:`~mmext.engine.hooks.EPIHook`) adds only its trigger and schedule:

- set-up: the coupled channel groups with trainable producers are traced
  once, for training and test runs alike, with an empty
  :class:`~mmext.pruning.record.PruningRecord` tagged with the method;
- latency: the table of ``lut``, checked against the model, with the
  model's timed layers (a :class:`~mmext.pruning.latency.LatencyModel`),
  and the predicted dense latency, the reference of latency ratios;
- saliency: BN-Taylor scores read in an optimizer step pre-hook (after
  backward, DDP's gradient averaging and AMP's unscaling, before the
  optimiser and ``zero_grad`` touch the gradients) and averaged between
  two decisions, or a weight-magnitude score;
- history: every pruning step appended to the record;
- checkpoints: the record goes into ``checkpoint['pruning']`` and is
  replayed in ``after_load_checkpoint``, before the weights load. A record
  tagged with another method is an error; a record written before the tag
  existed is replayed with a warning when it fits the model.
"""
from abc import ABCMeta, abstractmethod
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from torch import nn

from mmext.pruning.allocation import network_latency
from mmext.pruning.graph import ChannelGroup
from mmext.pruning.importance import TaylorSaliency, magnitude_saliency
from mmext.pruning.latency import LatencyModel
from mmext.pruning.masks import full_masks
from mmext.pruning.record import PruningRecord, PruningStep
from mmext.utils.model import unwrap
from .pruning_runtime import hook_optimizer_steps, load_latency_model, \
    prunable_groups, remove_hooks

__all__ = ['BasePruningHook', 'CHECKPOINT_KEY', 'METHOD_HOOKS']

#: Where the pruning record lives in a checkpoint.
CHECKPOINT_KEY = 'pruning'
#: Method tag to the hook that writes it.
METHOD_HOOKS = {'halp': 'mmext.HALPHook', 'epi': 'mmext.EPIHook'}
TAYLOR = 'taylor'

Saliency = Dict[str, torch.Tensor]


class BasePruningHook(Hook, metaclass=ABCMeta):
    """Group set-up, latency table, saliency, history and checkpoints of a
    pruning hook (not registered; see the module docstring).

    Subclasses set :attr:`method` and :attr:`weight_saliency` and implement
    :meth:`_accumulates` (when the Taylor score accumulates) and
    :meth:`_replay` (what a loaded record does to the model).

    Args:
        input_shape (Sequence[int]): One input (C, H, W) to trace the
            channel coupling and the layers' feature-map sizes.
        criterion (str): ``'taylor'`` (BN-Taylor, accumulated in the
            optimizer step pre-hook) or another name scored by
            :attr:`weight_saliency`.
        lut (str, optional): Latency table JSON from
            ``tools/pruning/build_latency_lut.py``.
        latency_batch (int, optional): The batch size the table must have
            been measured at; None accepts the table's.
        scope (Sequence[str], optional): Sub-modules to prune; None prunes
            ``model(x, mode='tensor')``.
        ignored_layers (Sequence[str]): Layers whose output channels are
            never pruned. Defaults to ().
    """

    priority = 'ABOVE_NORMAL'  # prune before EMAHook and checkpoints see it
    #: The tag written into ``checkpoint['pruning']['extra']['method']``.
    method: str = ''
    #: The non-Taylor score: ``f(model, groups) -> {key: Tensor[C]}``.
    weight_saliency: Callable[[nn.Module, List[ChannelGroup]],
                              Saliency] = staticmethod(magnitude_saliency)

    def __init__(self,
                 input_shape: Sequence[int],
                 criterion: str,
                 lut: Optional[str] = None,
                 latency_batch: Optional[int] = None,
                 scope: Optional[Sequence[str]] = None,
                 ignored_layers: Sequence[str] = ()) -> None:
        if len(input_shape) != 3:
            raise ValueError(f'{self.owner}: input_shape is one input (C, H, '
                             f'W), got {tuple(input_shape)}')
        self.input_shape = tuple(int(s) for s in input_shape)
        self.criterion = criterion
        self.lut_path = lut
        self.latency_batch = latency_batch
        self.scope = tuple(scope) if scope is not None else None
        self.ignored_layers = tuple(ignored_layers)

        self.groups: Optional[List[ChannelGroup]] = None
        self.record: Optional[PruningRecord] = None
        self.saliency: Optional[TaylorSaliency] = None
        self.latency: Optional[LatencyModel] = None
        self._model: Optional[nn.Module] = None
        self._handles: list = []

    @property
    def owner(self) -> str:
        """The hook's name, for messages."""
        return type(self).__name__

    # set-up ---------------------------------------------------------------
    def _record_extra(self) -> dict:
        """Method-specific state of a new record, after the method tag."""
        return {}

    def _setup(self, runner) -> None:
        """Trace the dense model's groups once (train and test runs alike).
        """
        if self.groups is not None:
            return
        model = unwrap(runner.model)
        self.groups = prunable_groups(model, self.input_shape, self.scope,
                                      self.ignored_layers, self.owner,
                                      runner.logger)
        self._model = model
        self.record = PruningRecord(
            group_sizes={g.key: g.num_channels
                         for g in self.groups},
            extra=dict(method=self.method, **self._record_extra()))
        self.saliency = TaylorSaliency(self.groups)

    def before_run(self, runner) -> None:
        self._setup(runner)

    def _load_latency(self) -> None:
        """Load the latency table; predict the dense latency once."""
        self.latency = load_latency_model(self._model, self.lut_path,
                                          self.input_shape, self.scope,
                                          self.latency_batch, self.owner)
        if self.record.dense_latency is None:
            self.record.dense_latency = network_latency(
                self.groups, full_masks(self.groups), self.latency)

    # saliency -------------------------------------------------------------
    def _hook_optimizer(self, runner) -> None:
        """Accumulate the Taylor score before every optimiser step."""
        if self.criterion == TAYLOR:
            self._handles = hook_optimizer_steps(runner.optim_wrapper,
                                                 self._on_optimizer_step)

    @abstractmethod
    def _accumulates(self) -> bool:
        """Whether the Taylor score accumulates at this optimiser step."""

    def _on_optimizer_step(self, optimizer, args, kwargs) -> None:
        """Optimizer step pre-hook: gradients are final and unscaled."""
        if self._accumulates():
            self.saliency.accumulate(self._model)

    def after_train(self, runner) -> None:
        remove_hooks(self._handles)

    def _current_saliency(self) -> Saliency:
        """Score per group channel [C]: the Taylor average since the last
        decision (then reset), or :attr:`weight_saliency` now."""
        if self.criterion != TAYLOR:
            return self.weight_saliency(self._model, self.groups)
        scores = self.saliency.average()
        self.saliency.reset()
        return scores

    # history --------------------------------------------------------------
    def _append_step(self, step: int, iteration: int, target: float,
                     latency: float, keep: Saliency) -> None:
        """Record one pruning step (the masks are copied)."""
        self.record.steps.append(
            PruningStep(
                step=step,
                iteration=iteration,
                target=target,
                latency=latency,
                keep={k: v.clone()
                      for k, v in keep.items()}))

    # checkpoints ----------------------------------------------------------
    def _saliency_to_save(self) -> Optional[dict]:
        """The accumulator state a checkpoint keeps."""
        return self.saliency.state_dict()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write the pruning record, tagged with the method."""
        if self.record is None:
            return
        self.record.saliency = self._saliency_to_save()
        checkpoint[CHECKPOINT_KEY] = self.record.to_dict()

    def _check_record(self, record: PruningRecord) -> None:
        """Raise a ValueError if ``record`` (untagged, groups checked)
        lacks what this method replays."""

    def _check_method(self, record: PruningRecord) -> None:
        """Raise a ValueError if another method pruned the checkpoint."""
        if record.method in (None, self.method):
            return
        other = METHOD_HOOKS.get(record.method, 'another hook')
        raise ValueError(
            f'{self.owner}: the checkpoint was pruned by {record.method!r} '
            f'({other}), not {self.method!r} '
            f"(checkpoint['{CHECKPOINT_KEY}']['extra']['method']); load it "
            f'with the config it was trained with, whose custom_hooks hold '
            f'{other}')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Replay the checkpoint's pruning record (before weights load)."""
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        self._setup(runner)
        record = PruningRecord.from_dict(state)
        self._check_method(record)
        record.check_groups(self.record.group_sizes)
        if record.method is None:
            self._check_record(record)
            runner.logger.warning(
                f'{self.owner}: the checkpoint\'s pruning record has no '
                f"method tag (checkpoint['{CHECKPOINT_KEY}']['extra']"
                "['method'], written by mmext before the tag); its groups "
                f'fit this model, so it is replayed as {self.method!r} '
                'pruning. Checkpoints saved from now on carry the tag.')
            record.extra['method'] = self.method
        self.record = record
        if record.saliency is not None:
            self.saliency.load_state_dict(record.saliency)
        self._replay(runner, record)

    @abstractmethod
    def _replay(self, runner, record: PruningRecord) -> None:
        """Bring the freshly built model to ``record``'s pruned state."""
