"""Torch-Pruning's own pruner as the peer of HALP in benchmarks.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv 2110.10811) chooses which channels to keep by a latency
knapsack. The library a user would otherwise install is Torch-Pruning
(Fang et al., "DepGraph: Towards Any Structural Pruning", CVPR 2023,
https://github.com/VainF/Torch-Pruning, MIT): its ``MetaPruner`` ranks the
coupled channel groups of the whole network by one global importance
(``global_pruning=True``) and removes the lowest, in ``iterative_steps``
steps whose channel ratio rises linearly to ``pruning_ratio``. It knows
nothing of latency: a latency budget is met by choosing ``pruning_ratio``
(``tools/analysis_tools/compare_pruners.py`` calibrates it against measured
latency).

:class:`TorchPruningPeer` runs that pruner on a model being trained, the
way :class:`mmext.engine.hooks.HALPHook` runs HALP:

- the channels that reach the scope's outputs (a classifier's logits, an
  FPN's levels) are never pruned, as in mmext's channel groups
  (:func:`mmext.pruning.graph.output_producers`);
- Taylor importance (``GroupTaylorImportance``, ``|w * dL/dw|`` summed over
  each group) reads the gradients summed over the iterations since the
  last step, as Torch-Pruning's own benchmarks sum them over several
  batches before a step;
- channels are removed for real at each step (Torch-Pruning's surgery), and
  the optimiser follows: the new parameters replace the old ones in its
  parameter groups and keep the momentum of their surviving channels.

Single process only: a physically changing model cannot stay inside a
``DistributedDataParallel`` wrapper.
"""
from typing import Dict, Iterable, List, Optional, Sequence

import torch
from torch import nn

from .graph import dependency_graph, example_inputs, output_producers, \
    traceable

__all__ = ['TorchPruningPeer', 'move_parameter_state', 'IMPORTANCES']

#: Importance name to the Torch-Pruning class that scores groups.
IMPORTANCES = {
    'taylor': 'GroupTaylorImportance',
    'magnitude': 'GroupMagnitudeImportance'
}


def move_parameter_state(optimizer: torch.optim.Optimizer, old: nn.Parameter,
                         new: nn.Parameter, removed: Sequence[int]) -> None:
    """Put ``new`` where ``old`` was in ``optimizer``, with its state sliced.

    ``new`` is ``old`` with the indices ``removed`` taken out of exactly one
    dimension (Torch-Pruning's ``index_select`` of the kept ones). State
    tensors shaped like ``old`` (SGD's momentum, Adam's moments) keep the
    entries of the surviving indices; other state (Adam's step count) is
    kept as it is. When no single shrunk dimension explains the new shape,
    the state of ``new`` starts empty.

    Args:
        optimizer (torch.optim.Optimizer): Holds ``old`` in a param group.
        old (nn.Parameter): The parameter before pruning, shape ``S``.
        new (nn.Parameter): After pruning: ``S`` with one dimension ``d``
            shortened by ``len(removed)``.
        removed (Sequence[int]): The pruned indices along ``d``.
    """
    for group in optimizer.param_groups:
        group['params'] = [new if p is old else p for p in group['params']]
    state = optimizer.state.pop(old, None)
    if not state:
        return
    shrunk = [
        d for d in range(old.dim()) if old.shape[d] != new.shape[d]
    ] if old.dim() == new.dim() else []
    if len(shrunk) != 1:
        return
    dim = shrunk[0]
    dropped = set(int(i) for i in removed)
    keep = torch.tensor(
        [i for i in range(old.shape[dim]) if i not in dropped],
        dtype=torch.long,
        device=old.device)
    if keep.numel() != new.shape[dim]:
        return
    optimizer.state[new] = {
        name: value.index_select(dim, keep)
        if torch.is_tensor(value) and value.shape == old.shape else value
        for name, value in state.items()
    }


class TorchPruningPeer:
    """Torch-Pruning's global, iterative ``MetaPruner`` on a training model.

    Args:
        model (nn.Module): The unwrapped model; pruned in place.
        input_shape (Sequence[int]): One input (C, H, W) to trace.
        pruning_ratio (float): Fraction of the channels removed after the
            last step, in [0, 1).
        iterative_steps (int): Number of pruning steps.
        importance (str): ``'taylor'`` or ``'magnitude'``. Defaults to
            ``'taylor'``.
        round_to (int, optional): Keep channel counts multiples of this
            (Torch-Pruning's ``round_to``); None keeps any count.
        scope (Sequence[str], optional): Sub-modules to prune, as in
            :func:`mmext.pruning.graph.traceable`; None prunes the whole
            model's ``mode='tensor'`` forward.
        ignored_layers (Sequence[str]): Further modules whose output
            channels are kept. Defaults to ().
    """

    def __init__(self,
                 model: nn.Module,
                 input_shape: Sequence[int],
                 pruning_ratio: float,
                 iterative_steps: int,
                 importance: str = 'taylor',
                 round_to: Optional[int] = None,
                 scope: Optional[Sequence[str]] = None,
                 ignored_layers: Sequence[str] = ()) -> None:
        import torch_pruning as tp
        if not 0 <= pruning_ratio < 1:
            raise ValueError(f'pruning_ratio must be in [0, 1), got '
                             f'{pruning_ratio}')
        if importance not in IMPORTANCES:
            raise ValueError(f'importance must be one of '
                             f'{tuple(IMPORTANCES)}, got {importance!r}')
        self.model = model
        self.pruning_ratio = float(pruning_ratio)
        self.iterative_steps = int(iterative_steps)
        self.gradient_sums: Dict[nn.Parameter, torch.Tensor] = {}
        wrapper = traceable(model, scope)
        inputs = example_inputs(model, input_shape)
        modules = dict(model.named_modules())
        unknown = [n for n in ignored_layers if n not in modules]
        if unknown:
            raise ValueError(f'ignored_layers: no module named {unknown}')
        graph = dependency_graph(model, inputs, scope)
        ignored = list(output_producers(graph)) + [
            modules[n] for n in ignored_layers
        ]
        was_training = model.training
        model.eval()  # tracing must not move BatchNorm statistics
        try:
            self.pruner = tp.pruner.MetaPruner(
                wrapper,
                inputs,
                importance=getattr(tp.importance, IMPORTANCES[importance])(),
                global_pruning=True,
                pruning_ratio=self.pruning_ratio,
                iterative_steps=self.iterative_steps,
                ignored_layers=ignored,
                round_to=round_to)
        finally:
            model.train(was_training)

    @property
    def steps_done(self) -> int:
        """Pruning steps taken so far."""
        return self.pruner.current_step

    def accumulate_gradients(self) -> None:
        """Add the parameters' current gradients to the running sums."""
        for param in self.model.parameters():
            if param.grad is None:
                continue
            total = self.gradient_sums.get(param)
            if total is None:
                self.gradient_sums[param] = param.grad.detach().clone()
            else:
                total.add_(param.grad.detach())

    def step(self,
             optimizers: Iterable[torch.optim.Optimizer] = ()) -> None:
        """One pruning step on the summed gradients; the sums restart.

        Args:
            optimizers (Iterable[Optimizer]): Optimisers holding the model's
                parameters; they get the pruned parameters with the state
                of the surviving channels.
        """
        from torch_pruning._helpers import to_plain_idxs
        optimizers = list(optimizers)
        for param, total in self.gradient_sums.items():
            param.grad = total
        for group in self.pruner.step(interactive=True):
            for item in group.items:
                self._prune_item(item.dep, item.idxs, optimizers,
                                 to_plain_idxs)
        self.gradient_sums = {}
        self.model.zero_grad(set_to_none=True)

    @staticmethod
    def _prune_item(dep, idxs, optimizers: List[torch.optim.Optimizer],
                    to_plain_idxs) -> None:
        """Run one dependency of a group, carrying the optimiser state."""
        module = dep.target.module
        if not isinstance(module, nn.Module):
            raise TypeError(
                'TorchPruningPeer: the model has a bare nn.Parameter in a '
                f'channel group ({dep.target.name}); only channels of '
                'layers (convolutions, linear layers, norms) are pruned here')
        before = dict(module.named_parameters(recurse=False))
        dep(idxs)
        if len(idxs) == 0:
            return
        removed = to_plain_idxs(idxs) if hasattr(idxs[0], 'idx') else idxs
        for name, new in module.named_parameters(recurse=False):
            old = before.get(name)
            if old is None or new is old:
                continue
            for optimizer in optimizers:
                move_parameter_state(optimizer, old, new, removed)

    def channel_counts(self) -> Dict[str, int]:
        """Output channels of every convolution and linear layer."""
        return {
            name: (m.out_channels if isinstance(m, nn.modules.conv._ConvNd)
                   else m.out_features)
            for name, m in self.model.named_modules()
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))
        }
