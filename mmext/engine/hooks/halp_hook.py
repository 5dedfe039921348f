"""HALP as an MMEngine hook: latency-constrained structural pruning.

HALP (Shen, Yin, Molchanov, Mao, Liu, Alvarez, "Structural Pruning via
Latency-Saliency Knapsack", NeurIPS 2022, arXiv 2110.10811) prunes a trained
network while fine-tuning it: every ``interval`` iterations it ranks the
channels by their averaged BN-Taylor saliency and keeps, by an exact latency
knapsack over a measured latency table, the most salient channels that fit
a latency target lowered geometrically to ``target_ratio`` of the dense
latency. The maths lives in :mod:`mmext.pruning` (where one step also
corrects HALP's frozen-input-channel latency estimate, see
:func:`mmext.pruning.allocation.allocate`), the lifecycle it shares with
EPI in :class:`~mmext.engine.hooks.pruning_hook.BasePruningHook` (saliency
in an optimizer step pre-hook, once per real update with
``accumulative_counts``; the pruning record in the checkpoint, replayed on
load, so resuming continues the schedule and ``tools/test.py`` evaluates
the pruned network). This hook adds HALP's schedule:

- every ``interval`` iterations from ``start``, one knapsack step to the
  next geometric latency target;
- masks are re-applied after every iteration to the model, to EMA copies
  (``EMAHook``) and to the optimiser state;
- the latency ratio and kept-channel fraction go to the message hub (and
  so the logs) and to the visualizer.

Latencies are those of the pruned scope (the whole model by default; the
backbone and neck of a detector with ``scope=('backbone', 'neck')``).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import get_rank

from mmext.pruning.allocation import allocate, allocate_uniform, \
    network_latency, smallest_latency
from mmext.pruning.masks import apply_plan, full_masks, kept_fraction, \
    mask_optimizer_state, zero_plan
from mmext.pruning.record import PruningRecord
from mmext.pruning.schedule import PruningSchedule, \
    geometric_latency_targets
from mmext.registry import HOOKS
from .pruning_hook import CHECKPOINT_KEY, BasePruningHook
from .pruning_runtime import broadcast_masks, ema_models, optimizers

__all__ = ['HALPHook', 'CHECKPOINT_KEY']

IMPORTANCES = ('taylor', 'magnitude')
ALLOCATIONS = {'knapsack': allocate, 'uniform': allocate_uniform}


@HOOKS.register_module()
class HALPHook(BasePruningHook):
    """Prune channels to a latency budget while fine-tuning (HALP).

    Args:
        target_ratio (float): Final latency as a fraction of the dense
            latency, in (0, 1): 0.55 is the paper's "HALP-55%".
        lut (str): Latency table JSON from
            ``tools/pruning/build_latency_lut.py`` (measured on the
            deployment device, at the deployment batch size).
        input_shape (Sequence[int]): One input (C, H, W) used to trace the
            channel coupling and the layers' feature-map sizes, e.g.
            ``(3, 224, 224)``; the LUT must be built with the same.
        start (int): First iteration that accumulates saliency. Defaults
            to 0.
        interval (int): Iterations between pruning steps. Defaults to 40
            (the paper's ImageNet setting at batch 1024).
        num_steps (int): Number of pruning steps. Defaults to 30.
        importance (str): ``'taylor'`` (HALP's BN-Taylor score averaged
            over the interval) or ``'magnitude'`` (L1 norm of the weights).
            Defaults to ``'taylor'``.
        channel_group_size (int): Channels per knapsack item (HALP's
            neuron group size); a group keeps at least one. Defaults to 8.
        scope (Sequence[str], optional): Sub-modules to prune, called in
            order (``('backbone', 'neck')`` for detectors). None prunes
            ``model(x, mode='tensor')``, e.g. a whole classifier or
            segmentor. Channels that reach the scope's outputs are kept.
        ignored_layers (Sequence[str]): Layers whose output channels are
            never pruned, e.g. ``('backbone.conv1',)``. Defaults to ().
        latency_batch (int, optional): The batch size the LUT must have
            been measured at; a LUT of another batch is an error. None
            accepts the LUT's batch.
        allocation (str): ``'knapsack'`` (HALP) or ``'uniform'``, the
            baseline that keeps the same width fraction in every group
            (:func:`mmext.pruning.allocation.allocate_uniform`). Defaults
            to ``'knapsack'``.
    """

    method = 'halp'

    def __init__(self,
                 target_ratio: float,
                 lut: str,
                 input_shape: Sequence[int],
                 start: int = 0,
                 interval: int = 40,
                 num_steps: int = 30,
                 importance: str = 'taylor',
                 channel_group_size: int = 8,
                 scope: Optional[Sequence[str]] = None,
                 ignored_layers: Sequence[str] = (),
                 latency_batch: Optional[int] = None,
                 allocation: str = 'knapsack') -> None:
        if not 0 < target_ratio < 1:
            raise ValueError(
                f'HALPHook: target_ratio must be in (0, 1), got '
                f'{target_ratio}; 0.55 keeps 55% of the dense latency')
        for name, value, choices in (
            ('importance', importance, IMPORTANCES),
            ('allocation', allocation, tuple(ALLOCATIONS))):
            if value not in choices:
                raise ValueError(f'HALPHook: {name} must be one of '
                                 f'{choices}, got {value!r}')
        if not isinstance(channel_group_size, int) or channel_group_size < 1:
            raise ValueError('HALPHook: channel_group_size must be a '
                             f'positive int, got {channel_group_size!r}')
        super().__init__(input_shape, importance, lut, latency_batch, scope,
                         ignored_layers)
        self.target_ratio = float(target_ratio)
        self.schedule = PruningSchedule(start, interval, num_steps)
        self.channel_group_size = channel_group_size
        self.allocation = allocation

        self.keep: Dict[str, torch.Tensor] = {}
        self.kept_fraction = 1.0
        self.targets: List[float] = []
        self._plans: List[Tuple[list, List[torch.optim.Optimizer]]] = []
        self._accumulating = False

    @property
    def importance(self) -> str:
        """``'taylor'`` or ``'magnitude'``."""
        return self.criterion

    # set-up ---------------------------------------------------------------
    def _setup(self, runner) -> None:
        """Trace the channel groups once; every channel kept."""
        if self.groups is None:
            super()._setup(runner)
            self._set_keep(full_masks(self.groups))

    def _set_keep(self, keep: Dict[str, torch.Tensor]) -> None:
        """Replace the masks (and the kept fraction derived from them)."""
        self.keep = keep
        self.kept_fraction = kept_fraction(keep)

    def before_train(self, runner) -> None:
        """Load the LUT, fix the latency targets, check they are reachable."""
        self._setup(runner)
        self._load_latency()
        dense = self.record.dense_latency
        self.targets = geometric_latency_targets(dense, self.target_ratio,
                                                 self.schedule.num_steps)
        floor = smallest_latency(self.groups, self.latency,
                                 self.channel_group_size)
        if floor > self.targets[-1]:
            raise ValueError(
                f'HALPHook: target_ratio={self.target_ratio} is unreachable: '
                f'the smallest latency this model can reach is {floor:.4g} '
                f'ms ({floor / dense:.3f} of the dense {dense:.4g} ms) with '
                f'one block of channel_group_size={self.channel_group_size} '
                'channels per group. Raise target_ratio to at least '
                f'{floor / dense:.3f} or lower channel_group_size.')
        model_kind = ('conv+BN+ReLU units and pooling'
                      if self.latency.extended else 'convolutions only')
        runner.logger.info(
            f'HALPHook: dense latency {dense:.4g} ms predicted by the LUT '
            f'{self.lut_path} ({model_kind}); '
            f'{self.schedule.num_steps} steps every '
            f'{self.schedule.interval} iterations from iteration '
            f'{self.schedule.start} to {self.target_ratio:.3f} of it')
        self._hook_optimizer(runner)
        self._refresh_plans(runner)

    # saliency -------------------------------------------------------------
    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._accumulating = self.schedule.accumulates(runner.iter)

    def _accumulates(self) -> bool:
        return self._accumulating

    # pruning ---------------------------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        step = self.schedule.step_after(runner.iter)
        if step is not None and step > len(self.record.steps):
            self._prune(runner, step)
        for plan, optimizers in self._plans:
            apply_plan(plan)
            for optimizer in optimizers:
                mask_optimizer_state(optimizer, plan)
        self._log_scalars(runner)

    def _prune(self, runner, step: int) -> None:
        target = self.targets[step - 1]
        result = ALLOCATIONS[self.allocation](self.groups, self.keep,
                                              self._current_saliency(),
                                              target, self.channel_group_size,
                                              self.latency)
        self._set_keep(broadcast_masks(self.groups, result.keep))
        latency = network_latency(self.groups, self.keep, self.latency)
        self._append_step(step, runner.iter, target, latency, self.keep)
        self._refresh_plans(runner)
        dense = self.record.dense_latency
        runner.logger.info(
            f'HALPHook: step {step}/{self.schedule.num_steps} at iteration '
            f'{runner.iter + 1}: target {target / dense:.3f}, predicted '
            f'latency {latency / dense:.3f} of dense, '
            f'{self.kept_fraction:.3f} of the channels kept')
        runner.visualizer.add_scalars(
            dict(
                halp_latency_ratio=latency / dense,
                halp_target_ratio=target / dense,
                halp_channels_kept=self.kept_fraction),
            step=runner.iter + 1)

    def _refresh_plans(self, runner) -> None:
        """Which tensors to zero after each iteration (model, EMA)."""
        if all(bool(k.all()) for k in self.keep.values()):
            self._plans = []
            return
        self._plans = [(zero_plan(self._model, self.groups, self.keep),
                        optimizers(runner.optim_wrapper))]
        for averaged in ema_models(runner):
            self._plans.append((zero_plan(averaged.module, self.groups,
                                          self.keep), []))
        for plan, _ in self._plans:
            apply_plan(plan)

    def _log_scalars(self, runner) -> None:
        if self.record.dense_latency is None or self.latency is None:
            return
        latency = (
            self.record.steps[-1].latency
            if self.record.steps else self.record.dense_latency)
        runner.message_hub.update_scalar(
            'train/halp_latency_ratio', latency / self.record.dense_latency)
        runner.message_hub.update_scalar('train/halp_channels_kept',
                                         self.kept_fraction)

    # checkpoints -----------------------------------------------------------
    def _replay(self, runner, record: PruningRecord) -> None:
        """Zero the pruned channels of the freshly built model."""
        self._set_keep(record.current_keep())
        apply_plan(zero_plan(self._model, self.groups, self.keep))
        self._plans = []
        if get_rank() == 0:
            runner.logger.info(
                f'HALPHook: replayed {len(record.steps)} pruning steps; '
                f'{self.kept_fraction:.3f} of the channels kept')
