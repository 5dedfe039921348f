"""What the pruning hooks (HALP, EPI) share about the MMEngine runner.

- :func:`optimizers`: the torch optimisers behind optim-wrapper dicts;
- :func:`hook_optimizer_steps` and :func:`remove_hooks`: a callback before
  every optimiser step (where saliency reads final, unscaled gradients);
- :func:`broadcast_masks`: rank 0's channel masks on every rank;
- :func:`prunable_groups`: the traced groups with trainable producers, or a
  clear error when there are none;
- :func:`load_latency_model`: the latency table, checked against the model,
  with the model's timed layers (a
  :class:`~mmext.pruning.latency.LatencyModel`).
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.dist import broadcast
from mmengine.hooks import EMAHook
from torch import nn

from mmext.pruning.graph import ChannelGroup, build_channel_groups, \
    example_inputs, model_device
from mmext.pruning.latency import LatencyLUT, LatencyModel, \
    check_compatible
from mmext.pruning.signatures import scope_signatures


def optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    """The torch optimisers of an OptimWrapper or OptimWrapperDict."""
    if hasattr(optim_wrapper, 'optim_wrappers'):
        return [w.optimizer for w in optim_wrapper.optim_wrappers.values()]
    return [optim_wrapper.optimizer]


def hook_optimizer_steps(optim_wrapper, callback: Callable) -> list:
    """Register ``callback(optimizer, args, kwargs)`` as a step pre-hook
    of every torch optimiser of ``optim_wrapper``; returns the handles."""
    return [
        optimizer.register_step_pre_hook(callback)
        for optimizer in optimizers(optim_wrapper)
    ]


def remove_hooks(handles: list) -> None:
    """Remove the hooks of :func:`hook_optimizer_steps` (empties the
    list)."""
    for handle in handles:
        handle.remove()
    handles.clear()


def ema_models(runner) -> List[nn.Module]:
    """The averaged models (``BaseAveragedModel``) of the runner's EMAHooks
    that exist already."""
    return [
        hook.ema_model for hook in runner.hooks
        if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model')
    ]


def broadcast_masks(groups: Sequence[ChannelGroup],
                    keep: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rank 0's masks on every rank (a no-op without distribution).

    Decisions are made identically on all ranks from the same averaged
    gradients or synchronised weights; this makes it certain.

    Args:
        groups (Sequence[ChannelGroup]): The groups ``keep`` covers.
        keep (dict[str, Tensor]): Group key to bool mask [C].

    Returns:
        dict[str, Tensor]: Rank 0's masks, on the CPU.
    """
    keys = [g.key for g in groups]
    flat = torch.cat([keep[k].cpu() for k in keys]).to(torch.uint8)
    broadcast(flat, src=0)
    sizes = [g.num_channels for g in groups]
    return {
        k: part.bool()
        for k, part in zip(keys, torch.split(flat.cpu(), sizes))
    }


def prunable_groups(model: nn.Module, input_shape: Sequence[int],
                    scope: Optional[Sequence[str]],
                    ignored_layers: Sequence[str], owner: str,
                    logger) -> List[ChannelGroup]:
    """Trace the coupled channel groups whose producers are trainable.

    Args:
        model (nn.Module): The unwrapped model.
        input_shape (Sequence[int]): One input (C, H, W).
        scope (Sequence[str], optional): Pruned sub-modules.
        ignored_layers (Sequence[str]): Never-pruned layers.
        owner (str): The hook's name, for messages.
        logger: Where to report frozen groups and the group count.

    Returns:
        list[ChannelGroup]: The prunable groups.

    Raises:
        ValueError: If there is nothing to prune.
    """
    groups = build_channel_groups(model, example_inputs(model, input_shape),
                                  scope, ignored_layers)
    modules = dict(model.named_modules())
    trainable = [
        g for g in groups
        if any(modules[m.name].weight.requires_grad for m in g.producers)
    ]
    frozen = sorted(set(g.key for g in groups) - set(g.key
                                                     for g in trainable))
    if frozen:
        logger.info(f'{owner}: frozen groups kept: {frozen}')
    if not trainable:
        raise ValueError(
            f'{owner}: nothing to prune in {type(model).__name__} '
            f'(scope={scope}, ignored_layers={tuple(ignored_layers)}): no '
            'coupled channel group with trainable layers lies inside the '
            'scope without reaching its outputs. Widen `scope` or shorten '
            '`ignored_layers`.')
    logger.info(f'{owner}: {len(trainable)} prunable channel groups, '
                f'{sum(g.num_channels for g in trainable)} channels')
    return trainable


def load_latency_model(model: nn.Module, lut_path: str,
                       input_shape: Sequence[int],
                       scope: Optional[Sequence[str]],
                       latency_batch: Optional[int],
                       owner: str) -> LatencyModel:
    """Load a latency table and time the model's layers with it.

    Args:
        model (nn.Module): The unwrapped model.
        lut_path (str): JSON from ``tools/pruning/build_latency_lut.py``.
        input_shape (Sequence[int]): One input (C, H, W).
        scope (Sequence[str], optional): Pruned sub-modules.
        latency_batch (int, optional): Required LUT batch; None accepts the
            LUT's.
        owner (str): The hook's name, for messages.

    Returns:
        LatencyModel: The table and the signatures of the scope's timed
        layers.

    Raises:
        FileNotFoundError: If the table does not exist (names the tool).
        ValueError: If it was measured on another device or batch.
    """
    if not osp.isfile(lut_path):
        raise FileNotFoundError(
            f'{owner}: latency table lut={lut_path!r} does not exist; '
            'measure it on the deployment device with `python '
            'tools/pruning/build_latency_lut.py CONFIG --batch N --out '
            f'{lut_path}`')
    lut = LatencyLUT.load(lut_path)
    check_compatible(lut, model_device(model),
                     latency_batch or lut.meta['batch'])
    signatures = scope_signatures(model,
                                  scope,
                                  example_inputs(model, input_shape),
                                  int(lut.meta['batch']),
                                  pools=lut.extended)
    return LatencyModel(lut, signatures)


def __getattr__(name: str):
    """``unwrap`` moved to :func:`mmext.utils.model.unwrap`; the old path
    keeps working for one release with a ``DeprecationWarning``."""
    if name != 'unwrap':
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    from mmext.utils.deprecation import warn_moved
    from mmext.utils.model import unwrap
    warn_moved('mmext.engine.hooks.pruning_runtime.unwrap',
               'mmext.utils.model.unwrap')
    return unwrap
