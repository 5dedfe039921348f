"""EPI as an MMEngine hook: prune early, once the dominant sub-network is
stable, and train the slim network for the rest of the schedule.

EPI (Shen, Molchanov, Yin, Alvarez, "When to Prune? A Policy towards Early
Structural Pruning", CVPR 2022, arXiv 2110.12007): every epoch (or every
``interval`` iterations) the hook ranks the channels globally by magnitude
(``||W||_2 / sqrt(P)``) or BN-Taylor saliency, takes the dominant
sub-network for the target (the top channels at a neuron ratio, or HALP's
latency knapsack at a latency budget), records its architecture (kept
channels per coupled group) and computes the Early Pruning Indicator, the
mean similarity of that architecture to the ``window`` before it
(:mod:`mmext.pruning.epi`). Pruning fires at the first point whose EPI is at
least ``tau`` and not below (``strict_rise``: above) each of its previous
``patience`` values, or at ``latest_epoch`` at the latest. Then the model
is cut to the dominant sub-network *physically*
(:mod:`mmext.pruning.slim_training`): the optimiser state and EMA copies
are sliced, the DDP wrapper is rebuilt, and the remaining epochs run on the
smaller network.

The lifecycle it shares with HALP (group set-up, latency table, saliency,
history, checkpoints) is
:class:`~mmext.engine.hooks.pruning_hook.BasePruningHook`. The EPI history
and the pruning go into ``checkpoint['pruning']``; loading such a checkpoint
(resume, ``tools/test.py``) slims the freshly built model first so that the
slim weights load.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmext.pruning.allocation import allocate, network_latency
from mmext.pruning.epi import architecture, epi_score, global_ratio_masks, \
    should_prune
from mmext.pruning.importance import normalized_l2_saliency
from mmext.pruning.masks import full_masks, kept_fraction
from mmext.pruning.record import PruningRecord
from mmext.pruning.slim_training import slim_in_training
from mmext.registry import HOOKS
from mmext.visualization.epi_plot import plot_epi_curve
from .pruning_hook import CHECKPOINT_KEY, BasePruningHook
from .pruning_runtime import broadcast_masks, ema_models, optimizers, \
    remove_hooks

__all__ = ['EPIHook', 'CHECKPOINT_KEY']

#: EPI's thresholds for ResNet-50 as third-party reimplementations of the
#: paper (arXiv 2110.12007) give them; the paper selects one per network
#: and criterion.
DEFAULT_TAU = {'magnitude': 0.983, 'taylor': 0.944}
PLOT_NAME = 'epi_curve.png'


@HOOKS.register_module()
class EPIHook(BasePruningHook):
    """Prune once, when the Early Pruning Indicator says the dominant
    sub-network has stopped changing, and slim the model for real.

    Args:
        input_shape (Sequence[int]): One input (C, H, W) to trace the
            channel coupling (and the layers' sizes for a latency target).
        pruned_ratio (float, optional): Fraction of the prunable channels
            removed, in (0, 1): the paper's "pruned ratio". Give this or
            ``latency_ratio``.
        latency_ratio (float, optional): Latency of the pruned network as a
            fraction of the dense latency, in (0, 1), reached by HALP's
            latency knapsack over the ``lut``.
        lut (str, optional): Latency table for ``latency_ratio`` (from
            ``tools/pruning/build_latency_lut.py``).
        criterion (str): ``'magnitude'`` or ``'taylor'`` (BN-Taylor,
            averaged over each tracking interval). Defaults to
            ``'magnitude'``.
        window (int): r, the previous architectures EPI compares with.
            Defaults to 5.
        patience (int): The EPI must be at least (``strict_rise``: above)
            this many previous values. Defaults to 5.
        strict_rise (bool): Compare with the previous values by ``>`` (the
            trigger as third-party summaries of the paper word it), which
            never fires once EPI saturates at 1.0, instead of ``>=``.
            Defaults to False.
        tau (float, optional): Threshold; None takes the ResNet-50 value
            for the criterion (0.983 magnitude, 0.944 Taylor, see
            :data:`DEFAULT_TAU`).
        by_epoch (bool): Track every ``interval`` epochs (True) or every
            ``interval`` iterations. Defaults to True.
        interval (int): Tracking interval. Defaults to 1.
        latest_epoch (int, optional): Prune at the end of this epoch if EPI
            has not fired. None is half of the schedule.
        prune_epoch (int, optional): Ignore EPI and prune after exactly this
            many epochs (0: at initialisation); the oracle grid of
            ``tools/analysis_tools/epi_oracle.py``. With ``'taylor'``, epoch
            0 means after the first iteration, whose gradients score.
        channel_group_size (int): Channels per knapsack item with
            ``latency_ratio``. Defaults to 8.
        latency_batch (int, optional): The batch the LUT must have.
        scope (Sequence[str], optional): Sub-modules to prune, as in
            ``mmext.HALPHook``; None is the whole ``model(x, mode='tensor')``.
        ignored_layers (Sequence[str]): Layers never pruned. Defaults to ().
        plot (bool): Write ``epi_curve.png`` to the work dir at each
            tracking point (rank 0). Defaults to True.
    """

    method = 'epi'
    weight_saliency = staticmethod(normalized_l2_saliency)

    def __init__(self,
                 input_shape: Sequence[int],
                 pruned_ratio: Optional[float] = None,
                 latency_ratio: Optional[float] = None,
                 lut: Optional[str] = None,
                 criterion: str = 'magnitude',
                 window: int = 5,
                 patience: int = 5,
                 strict_rise: bool = False,
                 tau: Optional[float] = None,
                 by_epoch: bool = True,
                 interval: int = 1,
                 latest_epoch: Optional[int] = None,
                 prune_epoch: Optional[int] = None,
                 channel_group_size: int = 8,
                 latency_batch: Optional[int] = None,
                 scope: Optional[Sequence[str]] = None,
                 ignored_layers: Sequence[str] = (),
                 plot: bool = True) -> None:
        if (pruned_ratio is None) == (latency_ratio is None):
            raise ValueError(
                'EPIHook: give exactly one target, pruned_ratio (fraction of '
                'channels removed) or latency_ratio (fraction of the dense '
                f'latency kept); got pruned_ratio={pruned_ratio}, '
                f'latency_ratio={latency_ratio}')
        for name, value in (('pruned_ratio', pruned_ratio),
                            ('latency_ratio', latency_ratio)):
            if value is not None and not 0 < value < 1:
                raise ValueError(
                    f'EPIHook: {name} must be in (0, 1), got {value}')
        if latency_ratio is not None and lut is None:
            raise ValueError(
                'EPIHook: latency_ratio needs lut=PATH, a latency table from '
                'tools/pruning/build_latency_lut.py')
        if criterion not in DEFAULT_TAU:
            raise ValueError(f'EPIHook: criterion must be one of '
                             f'{tuple(DEFAULT_TAU)}, got {criterion!r}')
        for name, value in (('window', window), ('patience', patience),
                            ('interval', interval),
                            ('channel_group_size', channel_group_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f'EPIHook: {name} must be a positive int, got {value!r}')
        for name, value in (('latest_epoch', latest_epoch),
                            ('prune_epoch', prune_epoch)):
            if value is not None and (not isinstance(value, int)
                                      or value < 0):
                raise ValueError(
                    f'EPIHook: {name} must be an int >= 0, got {value!r}')
        super().__init__(input_shape, criterion, lut, latency_batch, scope,
                         ignored_layers)
        self.pruned_ratio = pruned_ratio
        self.latency_ratio = latency_ratio
        self.window = window
        self.patience = patience
        self.strict_rise = strict_rise
        self.tau = float(DEFAULT_TAU[criterion] if tau is None else tau)
        self.by_epoch = by_epoch
        self.interval = interval
        self.latest_epoch = latest_epoch
        self.prune_epoch = prune_epoch
        self.channel_group_size = channel_group_size
        self.plot = plot

        self._slimmed = False
        self._forced_iteration: Optional[int] = None
        self._iters_per_epoch = 1

    # state ---------------------------------------------------------------
    @property
    def points(self) -> List[dict]:
        """The tracking history: dicts of iteration, epoch, architecture
        (kept channels per group) and epi (None before the window fills)."""
        return self.record.extra['points']

    @property
    def pruned(self) -> Optional[dict]:
        """Iteration, epoch and reason of the pruning, or None."""
        return self.record.extra.get('pruned')

    def scores(self) -> List[float]:
        """The EPI values so far, oldest first."""
        return [p['epi'] for p in self.points if p['epi'] is not None]

    def _record_extra(self) -> dict:
        return dict(criterion=self.criterion, points=[], pruned=None)

    def before_train(self, runner) -> None:
        """Load the LUT, fix the forced pruning point, hook the optimiser."""
        self._setup(runner)
        self._iters_per_epoch = max(len(runner.train_dataloader), 1)
        if self.pruned is not None:  # resumed after the pruning
            return
        if self.latency_ratio is not None:
            self._load_latency()
        if self.prune_epoch is not None:
            first = 1 if self.criterion == 'taylor' else 0
            self._forced_iteration = max(
                first, self.prune_epoch * self._iters_per_epoch)
        else:
            latest = (self.latest_epoch if self.latest_epoch is not None
                      else max(runner.max_epochs // 2, 1))
            self._forced_iteration = latest * self._iters_per_epoch
        self._hook_optimizer(runner)
        if self._forced_iteration <= runner.iter:
            self._prune(runner, self._dominant_subnetwork(),
                        self._forced_reason, runner.iter)

    @property
    def _forced_reason(self) -> str:
        return 'fixed' if self.prune_epoch is not None else 'fallback'

    def _accumulates(self) -> bool:
        return self.pruned is None

    # tracking -------------------------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self.pruned is not None:
            return
        iteration = runner.iter + 1
        unit = self._iters_per_epoch if self.by_epoch else 1
        tracking = iteration % (unit * self.interval) == 0
        forced = iteration >= self._forced_iteration
        if not (tracking or forced):
            return
        keep = self._dominant_subnetwork()
        fire = False
        if tracking:
            fire = self._track(runner, keep)
        if fire and self.prune_epoch is None:
            self._prune(runner, keep, 'epi', iteration)
        elif forced:
            self._prune(runner, keep, self._forced_reason, iteration)

    def _dominant_subnetwork(self) -> Dict[str, torch.Tensor]:
        """Masks of the dominant sub-network now, identical on all ranks."""
        saliency = self._current_saliency()
        if self.pruned_ratio is not None:
            keep = global_ratio_masks(self.groups, saliency,
                                      self.pruned_ratio)
        else:
            keep = allocate(self.groups, full_masks(self.groups), saliency,
                            self.latency_ratio * self.record.dense_latency,
                            self.channel_group_size, self.latency).keep
        return broadcast_masks(self.groups, keep)

    def _track(self, runner, keep: Dict[str, torch.Tensor]) -> bool:
        """Record the architecture and EPI; True when EPI fires."""
        iteration = runner.iter + 1
        history = [p['architecture'] for p in self.points]
        history.append(architecture(self.groups, keep))
        score = (
            epi_score(history, self.window)
            if len(history) > self.window else None)
        self.points.append(
            dict(
                iteration=iteration,
                epoch=iteration / self._iters_per_epoch,
                architecture=history[-1],
                epi=score))
        if score is None:
            return False
        runner.message_hub.update_scalar('train/epi', score)
        runner.visualizer.add_scalars(
            dict(epi=score, epi_tau=self.tau), step=iteration)
        if self.plot and get_rank() == 0:
            self._plot(runner)
        return should_prune(self.scores(), self.tau, self.patience,
                            strict=self.strict_rise)

    def _plot(self, runner) -> None:
        pruned = self.pruned
        plot_epi_curve([p['epoch'] for p in self.points],
                       [p['epi'] for p in self.points],
                       self.tau,
                       osp.join(runner.work_dir, PLOT_NAME),
                       pruned_epoch=pruned['epoch'] if pruned else None,
                       title=f'EPI ({self.criterion})')

    # pruning --------------------------------------------------------------
    def _prune(self, runner, keep: Dict[str, torch.Tensor], reason: str,
               iteration: int) -> None:
        """Prune to ``keep`` after ``iteration`` completed iterations."""
        latency = (
            network_latency(self.groups, keep, self.latency)
            if self.latency is not None else float('nan'))
        target = (self.latency_ratio * self.record.dense_latency
                  if self.latency_ratio is not None else float('nan'))
        self._append_step(1, iteration, target, latency, keep)
        self.record.extra['pruned'] = dict(
            iteration=iteration,
            epoch=iteration / self._iters_per_epoch,
            reason=reason,
            pruned_ratio=self.pruned_ratio,
            latency_ratio=self.latency_ratio)
        dense_params = sum(p.numel() for p in self._model.parameters())
        self._slim(runner, keep)
        params = sum(p.numel() for p in self._model.parameters())
        remove_hooks(self._handles)
        ratio = ('' if self.latency is None else ', predicted latency '
                 f'{latency / self.record.dense_latency:.3f} of dense')
        runner.logger.info(
            f'EPIHook: pruned ({reason}) after iteration {iteration} (epoch '
            f'{iteration / self._iters_per_epoch:.2f}): '
            f'{kept_fraction(keep):.3f} of the channels and '
            f'{params / dense_params:.3f} of the parameters kept{ratio}; '
            'training continues on the slim model')
        runner.message_hub.update_scalar('train/epi_pruned_epoch',
                                         iteration / self._iters_per_epoch)
        if self.plot and get_rank() == 0 and self.points:
            self._plot(runner)

    def _slim(self, runner, keep: Dict[str, torch.Tensor]) -> None:
        """Cut the model (optimiser state, EMA copies, DDP wrapper too)."""
        wrapper = runner.optim_wrapper  # a config until train() builds it
        torch_optimizers = (
            optimizers(wrapper) if isinstance(
                wrapper, (OptimWrapper, OptimWrapperDict)) else [])
        slim_in_training(self._model, keep, self.input_shape, self.scope,
                         self.ignored_layers, torch_optimizers,
                         ema_models(runner))
        if is_model_wrapper(runner.model):
            runner.model = runner.wrap_model(
                runner.cfg.get('model_wrapper_cfg'), self._model)
        self._slimmed = True

    # checkpoints ------------------------------------------------------------
    def _saliency_to_save(self) -> Optional[dict]:
        """The accumulator state, until the pruning ends its use."""
        return self.saliency.state_dict() if self.pruned is None else None

    def _check_record(self, record: PruningRecord) -> None:
        """An untagged record must carry EPI's history."""
        if 'points' not in record.extra:
            raise ValueError(
                'EPIHook: the checkpoint\'s pruning record has no EPI '
                f"history (checkpoint['{CHECKPOINT_KEY}']['extra']['points'])"
                '; it was pruned by another method (mmext.HALPHook writes '
                'such records). Load it with the config it was trained '
                'with.')

    def _replay(self, runner, record: PruningRecord) -> None:
        """Slim the model if the checkpoint's is (this runs before the
        weights load)."""
        if self.pruned is not None and not self._slimmed:
            self._slim(runner, record.current_keep())
            if get_rank() == 0:
                runner.logger.info(
                    'EPIHook: the checkpoint was pruned at epoch '
                    f'{self.pruned["epoch"]:.2f}; the model is slimmed to '
                    'its architecture before the weights load')
