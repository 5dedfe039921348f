"""HALP as an MMEngine hook: latency-constrained structural pruning.

HALP (Shen, Yin, Molchanov, Mao, Liu, Alvarez, "Structural Pruning via
Latency-Saliency Knapsack", NeurIPS 2022, arXiv 2110.10811) prunes a trained
network while fine-tuning it: every ``interval`` iterations it ranks the
channels by their averaged BN-Taylor saliency and keeps, by an exact latency
knapsack over a measured latency table, the most salient channels that fit
a latency target lowered geometrically to ``target_ratio`` of the dense
latency. The maths lives in :mod:`mmext.pruning` (where one step also
corrects HALP's frozen-input-channel latency estimate, see
:func:`mmext.pruning.allocation.allocate`); this hook wires it into the
runner:

- saliency is read in an optimizer step pre-hook, i.e. after backward (and
  DDP's gradient averaging, and AMP's unscaling, both done before the step)
  and before the optimiser and ``zero_grad`` touch the gradients; with
  ``accumulative_counts`` it fires once per real update;
- masks are re-applied after every iteration to the model, to EMA copies
  (``EMAHook``) and to the optimiser state;
- the pruning history goes into the checkpoint (``checkpoint['pruning']``)
  and is replayed in ``after_load_checkpoint``, so resuming continues the
  schedule and ``tools/test.py`` evaluates the pruned network;
- the latency ratio and kept-channel fraction go to the message hub (and
  so the logs) and to the visualizer.

Latencies are those of the pruned scope (the whole model by default; the
backbone and neck of a detector with ``scope=('backbone', 'neck')``).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from torch import nn

from mmext.pruning.allocation import allocate, allocate_uniform, \
    network_latency, smallest_latency
from mmext.pruning.graph import ChannelGroup
from mmext.pruning.importance import TaylorSaliency, magnitude_saliency
from mmext.pruning.latency import LatencyLUT
from mmext.pruning.masks import apply_plan, full_masks, kept_fraction, \
    mask_optimizer_state, zero_plan
from mmext.pruning.record import PruningRecord, PruningStep
from mmext.pruning.schedule import PruningSchedule, \
    geometric_latency_targets
from mmext.registry import HOOKS
from .pruning_runtime import broadcast_masks, ema_models, \
    hook_optimizer_steps, load_latency_model, optimizers, prunable_groups, \
    remove_hooks, unwrap

CHECKPOINT_KEY = 'pruning'
IMPORTANCES = ('taylor', 'magnitude')
ALLOCATIONS = {'knapsack': allocate, 'uniform': allocate_uniform}


@HOOKS.register_module()
class HALPHook(Hook):
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

    priority = 'ABOVE_NORMAL'  # masks before EMAHook averages the weights

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
        if importance not in IMPORTANCES:
            raise ValueError(f'HALPHook: importance must be one of '
                             f'{IMPORTANCES}, got {importance!r}')
        if allocation not in ALLOCATIONS:
            raise ValueError(f'HALPHook: allocation must be one of '
                             f'{tuple(ALLOCATIONS)}, got {allocation!r}')
        if not isinstance(channel_group_size, int) or channel_group_size < 1:
            raise ValueError('HALPHook: channel_group_size must be a '
                             f'positive int, got {channel_group_size!r}')
        if len(input_shape) != 3:
            raise ValueError('HALPHook: input_shape is one input (C, H, W), '
                             f'got {tuple(input_shape)}')
        self.target_ratio = float(target_ratio)
        self.lut_path = lut
        self.input_shape = tuple(int(s) for s in input_shape)
        self.schedule = PruningSchedule(start, interval, num_steps)
        self.importance = importance
        self.channel_group_size = channel_group_size
        self.scope = tuple(scope) if scope is not None else None
        self.ignored_layers = tuple(ignored_layers)
        self.latency_batch = latency_batch
        self.allocation = allocation

        self.groups: Optional[List[ChannelGroup]] = None
        self.keep: Dict[str, torch.Tensor] = {}
        self.kept_fraction = 1.0
        self.record: Optional[PruningRecord] = None
        self.saliency: Optional[TaylorSaliency] = None
        self.lut: Optional[LatencyLUT] = None
        self.signatures: dict = {}
        self.targets: List[float] = []
        self._plans: List[Tuple[list, List[torch.optim.Optimizer]]] = []
        self._handles: list = []
        self._accumulating = False
        self._model: Optional[nn.Module] = None

    # set-up ---------------------------------------------------------------
    def _setup_groups(self, runner) -> None:
        """Trace the channel groups once (train and test runs alike)."""
        if self.groups is not None:
            return
        model = unwrap(runner.model)
        trainable = prunable_groups(model, self.input_shape, self.scope,
                                    self.ignored_layers, 'HALPHook',
                                    runner.logger)
        self.groups = trainable
        self._model = model
        self.record = PruningRecord(
            group_sizes={g.key: g.num_channels
                         for g in trainable})
        self._set_keep(full_masks(trainable))
        self.saliency = TaylorSaliency(trainable)

    def _set_keep(self, keep: Dict[str, torch.Tensor]) -> None:
        """Replace the masks (and the kept fraction derived from them)."""
        self.keep = keep
        self.kept_fraction = kept_fraction(keep)

    def before_run(self, runner) -> None:
        self._setup_groups(runner)

    def before_train(self, runner) -> None:
        """Load the LUT, fix the latency targets, check they are reachable."""
        self._setup_groups(runner)
        self.lut, self.signatures = load_latency_model(
            unwrap(runner.model), self.lut_path, self.input_shape,
            self.scope, self.latency_batch, 'HALPHook')
        if self.record.dense_latency is None:
            self.record.dense_latency = network_latency(
                self.groups, full_masks(self.groups), self.signatures,
                self.lut)
        dense = self.record.dense_latency
        self.targets = geometric_latency_targets(dense, self.target_ratio,
                                                 self.schedule.num_steps)
        floor = smallest_latency(self.groups, self.signatures, self.lut,
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
                      if self.lut.extended else 'convolutions only')
        runner.logger.info(
            f'HALPHook: dense latency {dense:.4g} ms predicted by the LUT '
            f'{self.lut_path} ({model_kind}); '
            f'{self.schedule.num_steps} steps every '
            f'{self.schedule.interval} iterations from iteration '
            f'{self.schedule.start} to {self.target_ratio:.3f} of it')
        if self.importance == 'taylor':
            self._handles = hook_optimizer_steps(runner.optim_wrapper,
                                                 self._on_optimizer_step)
        self._refresh_plans(runner)

    def after_train(self, runner) -> None:
        remove_hooks(self._handles)

    # saliency -------------------------------------------------------------
    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._accumulating = self.schedule.accumulates(runner.iter)

    def _on_optimizer_step(self, optimizer, args, kwargs) -> None:
        """Optimizer step pre-hook: gradients are final and unscaled."""
        if self._accumulating:
            self.saliency.accumulate(self._model)

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

    def _current_saliency(self) -> Dict[str, torch.Tensor]:
        if self.importance == 'magnitude':
            return magnitude_saliency(self._model, self.groups)
        scores = self.saliency.average()
        self.saliency.reset()
        return scores

    def _prune(self, runner, step: int) -> None:
        target = self.targets[step - 1]
        result = ALLOCATIONS[self.allocation](self.groups, self.keep,
                                              self._current_saliency(),
                                              target, self.channel_group_size,
                                              self.signatures, self.lut)
        self._set_keep(broadcast_masks(self.groups, result.keep))
        latency = network_latency(self.groups, self.keep, self.signatures,
                                  self.lut)
        self.record.steps.append(
            PruningStep(
                step=step,
                iteration=runner.iter,
                target=target,
                latency=latency,
                keep={k: v.clone()
                      for k, v in self.keep.items()}))
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
        if self.record.dense_latency is None or self.lut is None:
            return
        latency = (
            self.record.steps[-1].latency
            if self.record.steps else self.record.dense_latency)
        runner.message_hub.update_scalar(
            'train/halp_latency_ratio', latency / self.record.dense_latency)
        runner.message_hub.update_scalar('train/halp_channels_kept',
                                         self.kept_fraction)

    # checkpoints -----------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.record is None:
            return
        self.record.saliency = self.saliency.state_dict()
        checkpoint[CHECKPOINT_KEY] = self.record.to_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Replay the checkpoint's pruning history (before weights load)."""
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        self._setup_groups(runner)
        record = PruningRecord.from_dict(state)
        record.check_groups(self.record.group_sizes)
        self.record = record
        self._set_keep(record.current_keep())
        if record.saliency is not None:
            self.saliency.load_state_dict(record.saliency)
        apply_plan(zero_plan(self._model, self.groups, self.keep))
        self._plans = []
        if get_rank() == 0:
            runner.logger.info(
                f'HALPHook: replayed {len(record.steps)} pruning steps; '
                f'{self.kept_fraction:.3f} of the channels kept')
