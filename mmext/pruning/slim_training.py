"""Slim a model in the middle of training and carry its training state over.

EPI (Shen et al., "When to Prune? A Policy towards Early Structural
Pruning", CVPR 2022, arXiv 2110.12007) prunes once, early, and trains the
pruned network for the rest of the schedule; the saving only materialises if
the remaining epochs run on a physically smaller network. Cutting channels
out of a live model (:func:`mmext.pruning.export.slim_model`) replaces its
parameter tensors, so everything that refers to the old ones must follow:

- the optimiser's parameter groups and per-parameter state (momentum, Adam
  moments), sliced to the surviving entries; the optimiser object itself is
  kept, so parameter schedulers and the optim wrapper stay valid;
- averaged copies of the model (MMEngine's ``EMAHook``), sliced the same way.

Which entries of each dense tensor survive is read off a probe: a float64
copy of the model whose every entry holds its own flat index is slimmed with
the same masks, so whatever surgery Torch-Pruning applies (residual
partners, BatchNorms, the next layers' inputs) the index maps follow it
exactly.
"""
import copy
import itertools
from typing import Dict, Iterable, Mapping, Optional, Sequence

import torch
from torch import nn

from .export import slim_model

#: tensor name (parameter or floating buffer) to surviving flat indices
EntryMap = Dict[str, torch.Tensor]


def _floating_tensors(model: nn.Module):
    return ((name, tensor) for name, tensor in itertools.chain(
        model.named_parameters(), model.named_buffers())
            if tensor.is_floating_point())


def surviving_entries(model: nn.Module,
                      keep: Mapping[str, torch.Tensor],
                      input_shape: Sequence[int],
                      scope: Optional[Sequence[str]] = None,
                      ignored_layers: Sequence[str] = ()) -> EntryMap:
    """Which entries of every tensor the slim model keeps, in its order.

    Args:
        model (nn.Module): The dense, unwrapped model (left unchanged).
        keep (dict[str, Tensor]): Group key to bool mask [C].
        input_shape (Sequence[int]): One input (C, H, W) for tracing.
        scope (Sequence[str], optional): As for :func:`slim_model`.
        ignored_layers (Sequence[str]): As for :func:`slim_model`.

    Returns:
        dict[str, Tensor]: Parameter and floating-buffer name to int64 flat
        indices into the dense tensor, shape [numel of the slim tensor].
    """
    probe = copy.deepcopy(model).double()
    probe.zero_grad(set_to_none=True)
    with torch.no_grad():
        for _, tensor in _floating_tensors(probe):
            tensor.copy_(
                torch.arange(tensor.numel(),
                             dtype=torch.float64).view_as(tensor))
    slim_model(probe, keep, input_shape, scope, ignored_layers)  # traces
    return {
        name: tensor.detach().flatten().round().long().cpu()
        for name, tensor in _floating_tensors(probe)
    }


def gather_entries(dense: torch.Tensor, index: torch.Tensor,
                   shape: torch.Size) -> torch.Tensor:
    """``dense``'s surviving entries (flat ``index``) laid out as ``shape``."""
    return dense.flatten()[index.to(dense.device)].view(shape).clone()


@torch.no_grad()
def move_optimizer_state(optimizer: torch.optim.Optimizer,
                         old: Mapping[str, nn.Parameter],
                         new: Mapping[str, nn.Parameter],
                         entries: EntryMap) -> None:
    """Point ``optimizer`` at the slim parameters, slicing its state.

    Args:
        optimizer (Optimizer): Holds (some of) the ``old`` parameters.
        old (dict[str, Parameter]): Name to dense parameter.
        new (dict[str, Parameter]): Name to slim parameter, same names.
        entries (dict[str, Tensor]): :func:`surviving_entries` output.
    """
    name_of = {id(p): n for n, p in old.items()}
    for group in optimizer.param_groups:
        params = []
        for param in group['params']:
            name = name_of.get(id(param))
            if name is None or new[name] is param:
                params.append(param)
                continue
            slim = new[name]
            state = optimizer.state.pop(param, None)
            if state:
                optimizer.state[slim] = {
                    key: (gather_entries(value, entries[name], slim.shape)
                          if isinstance(value, torch.Tensor)
                          and value.shape == param.shape else value)
                    for key, value in state.items()
                }
            params.append(slim)
        group['params'] = params


@torch.no_grad()
def slim_copy(dense_copy: nn.Module, slim_source: nn.Module,
              entries: EntryMap) -> nn.Module:
    """A slim version of a copy of the dense model (an EMA average).

    Args:
        dense_copy (nn.Module): Same architecture as the dense model, other
            values.
        slim_source (nn.Module): The slimmed model, for the architecture.
        entries (dict[str, Tensor]): :func:`surviving_entries` output.

    Returns:
        nn.Module: A deep copy of ``slim_source`` holding ``dense_copy``'s
        surviving values, on ``dense_copy``'s device, without gradients.
    """
    values = dense_copy.state_dict()
    device = next(itertools.chain(dense_copy.parameters(),
                                  dense_copy.buffers())).device
    slim = copy.deepcopy(slim_source).to(device).requires_grad_(False)
    for name, tensor in slim.state_dict().items():
        source = values[name]
        tensor.copy_(
            gather_entries(source, entries[name], tensor.shape)
            if name in entries else source)
    return slim


def slim_averaged_model(averaged: nn.Module, slim_source: nn.Module,
                        entries: EntryMap) -> None:
    """Slim an MMEngine ``BaseAveragedModel`` (EMA) in place.

    Args:
        averaged (BaseAveragedModel): Holds ``module`` (a dense copy) and
            ``avg_parameters`` (references into it).
        slim_source (nn.Module): The slimmed model.
        entries (dict[str, Tensor]): :func:`surviving_entries` output.
    """
    averaged.module = slim_copy(averaged.module, slim_source, entries)
    averaged.avg_parameters = (
        averaged.module.state_dict() if averaged.update_buffers else dict(
            averaged.module.named_parameters()))


def slim_in_training(model: nn.Module,
                     keep: Mapping[str, torch.Tensor],
                     input_shape: Sequence[int],
                     scope: Optional[Sequence[str]] = None,
                     ignored_layers: Sequence[str] = (),
                     optimizers: Iterable[torch.optim.Optimizer] = (),
                     averaged_models: Iterable[nn.Module] = ()) -> nn.Module:
    """Cut the masked channels out of a model that is being trained.

    Args:
        model (nn.Module): The unwrapped model; slimmed in place.
        keep (dict[str, Tensor]): Group key to bool mask [C].
        input_shape (Sequence[int]): One input (C, H, W) for tracing.
        scope (Sequence[str], optional): As for :func:`slim_model`.
        ignored_layers (Sequence[str]): As for :func:`slim_model`.
        optimizers (Iterable[Optimizer]): Re-pointed at the slim
            parameters with their state sliced.
        averaged_models (Iterable[BaseAveragedModel]): EMA copies, slimmed.

    Returns:
        nn.Module: ``model``.
    """
    entries = surviving_entries(model, keep, input_shape, scope,
                                ignored_layers)
    old = dict(model.named_parameters())
    trainable = {name: p.requires_grad for name, p in old.items()}
    slim_model(model, keep, input_shape, scope, ignored_layers)
    new = dict(model.named_parameters())
    for name, param in new.items():
        param.requires_grad_(trainable[name])
    for optimizer in optimizers:
        move_optimizer_state(optimizer, old, new, entries)
    for averaged in averaged_models:
        slim_averaged_model(averaged, model, entries)
    return model
