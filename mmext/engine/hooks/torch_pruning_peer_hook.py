"""Torch-Pruning's pruner on HALP's schedule, for side-by-side benchmarks.

:class:`TorchPruningPeerHook` runs :class:`mmext.pruning.torch_pruning_peer.
TorchPruningPeer` (Torch-Pruning's global, iterative ``MetaPruner``; Fang et
al., CVPR 2023) during training on the iterations where
:class:`~mmext.engine.hooks.HALPHook` (Shen et al., arXiv 2110.10811) would
prune: gradients are summed over each window of ``interval`` iterations from
``start`` and one Torch-Pruning step follows each window, ``num_steps`` in
all; the rest of the schedule fine-tunes. After training the slim model is
saved whole (``torch.save`` of the module) to ``<work_dir>/slim_model.pth``.

``tools/analysis_tools/compare_pruners.py`` registers it on a runner built
from a HALP config; it is not a registered component. It runs in one
process only and cannot resume: the pruned model no longer matches the
config's architecture.
"""
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmext.pruning.schedule import PruningSchedule
from mmext.pruning.torch_pruning_peer import TorchPruningPeer
from mmext.utils.atomic import atomic_torch_save
from mmext.utils.model import unwrap
from .pruning_runtime import hook_optimizer_steps, optimizers, remove_hooks

__all__ = ['TorchPruningPeerHook', 'SLIM_MODEL_FILE']

#: Where the slim model is saved in the work directory.
SLIM_MODEL_FILE = 'slim_model.pth'


class TorchPruningPeerHook(Hook):
    """Prune with Torch-Pruning's ``MetaPruner`` on HALP's schedule.

    Args:
        pruning_ratio (float): Channel fraction removed after the last step
            (Torch-Pruning's ``pruning_ratio``).
        input_shape (Sequence[int]): One input (C, H, W) to trace.
        start (int): First iteration whose gradients count. Defaults to 0.
        interval (int): Iterations per step. Defaults to 40.
        num_steps (int): Pruning steps. Defaults to 30.
        importance (str): ``'taylor'`` or ``'magnitude'``. Defaults to
            ``'taylor'``.
        round_to (int, optional): Channel counts stay multiples of this.
        scope (Sequence[str], optional): Sub-modules to prune (e.g.
            ``('backbone', 'neck')``); None prunes the whole model.
        ignored_layers (Sequence[str]): Further layers whose output
            channels are kept. Defaults to ().
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 pruning_ratio: float,
                 input_shape: Sequence[int],
                 start: int = 0,
                 interval: int = 40,
                 num_steps: int = 30,
                 importance: str = 'taylor',
                 round_to: Optional[int] = None,
                 scope: Optional[Sequence[str]] = None,
                 ignored_layers: Sequence[str] = ()) -> None:
        self.pruning_ratio = pruning_ratio
        self.input_shape = tuple(input_shape)
        self.schedule = PruningSchedule(start, interval, num_steps)
        self.importance = importance
        self.round_to = round_to
        self.scope = scope
        self.ignored_layers = tuple(ignored_layers)
        self.peer: Optional[TorchPruningPeer] = None
        self._handles: list = []
        self._accumulating = False

    def before_train(self, runner) -> None:
        if get_world_size() > 1:
            raise RuntimeError(
                'TorchPruningPeerHook runs in one process only: Torch-'
                'Pruning removes channels from the model, which a '
                'DistributedDataParallel wrapper cannot follow; launch '
                'without a distributed launcher')
        self.peer = TorchPruningPeer(
            unwrap(runner.model), self.input_shape, self.pruning_ratio,
            self.schedule.num_steps, self.importance, self.round_to,
            self.scope, self.ignored_layers)
        self._handles = hook_optimizer_steps(runner.optim_wrapper,
                                             self._accumulate)
        runner.logger.info(
            f'TorchPruningPeerHook: {self.schedule.num_steps} global '
            f'{self.importance} steps every {self.schedule.interval} '
            f'iterations from {self.schedule.start} to a channel pruning '
            f'ratio of {self.pruning_ratio:.4f}')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._accumulating = self.schedule.accumulates(runner.iter)

    def _accumulate(self, optimizer, args, kwargs) -> None:
        if self._accumulating and self.importance == 'taylor':
            self.peer.accumulate_gradients()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        step = self.schedule.step_after(runner.iter)
        if step is None or step <= self.peer.steps_done:
            return
        self.peer.step(optimizers(runner.optim_wrapper))
        model = unwrap(runner.model)
        kept = sum(p.numel() for p in model.parameters())
        runner.logger.info(
            f'TorchPruningPeerHook: step {step}/{self.schedule.num_steps} '
            f'at iteration {runner.iter + 1}: {kept / 1e6:.3f} M '
            'parameters')

    def after_train(self, runner) -> None:
        remove_hooks(self._handles)
        atomic_torch_save(unwrap(runner.model),
                          osp.join(runner.work_dir, SLIM_MODEL_FILE))


def load_slim_model(path: str) -> torch.nn.Module:
    """The whole module :class:`TorchPruningPeerHook` saved, in eval mode.
    """
    return torch.load(path, map_location='cpu', weights_only=False).eval()
