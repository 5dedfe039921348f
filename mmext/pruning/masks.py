"""Channel masks: keep pruned channels at zero while training goes on.

HALP (Shen et al., arXiv 2110.10811) prunes with masks during training and
removes the channels physically at the end. After every optimiser step the
masked channels' producing weights and biases and their BatchNorm's weight,
bias, running mean and running variance are set to zero again. With
``gamma = beta = 0`` a BatchNorm outputs exactly zero whatever its input, so
the masked network computes what the physically slimmed one computes
(:mod:`mmext.pruning.export`). mmext also zeroes the optimiser state of
those entries (momentum, Adam moments) and EMA copies of the model, which
the reference leaves alone.
"""
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from torch import nn

from .graph import NORM, ChannelGroup

#: (tensor, dim, indices to zero)
ZeroOp = Tuple[torch.Tensor, int, torch.Tensor]

_NORM_TENSORS = ('weight', 'bias', 'running_mean', 'running_var')
_LAYER_TENSORS = ('weight', 'bias')


def full_masks(groups: List[ChannelGroup]) -> Dict[str, torch.Tensor]:
    """Keep-everything masks: group key to bool [C], all True."""
    return {
        g.key: torch.ones(g.num_channels, dtype=torch.bool)
        for g in groups
    }


def zero_plan(model: nn.Module, groups: List[ChannelGroup],
              keep: Dict[str, torch.Tensor]) -> List[ZeroOp]:
    """The tensor entries that masking sets to zero.

    Args:
        model (nn.Module): The unwrapped model, or a copy with the same
            module names (an EMA model).
        groups (list[ChannelGroup]): The prunable groups.
        keep (dict[str, Tensor]): Group key to a bool mask [C].

    Returns:
        list[tuple[Tensor, int, Tensor]]: (tensor, dim, int64 indices) per
        masked tensor; producers' weights and biases along their output
        dimension, norms' affine parameters and running statistics.
    """
    modules = dict(model.named_modules())
    plan: List[ZeroOp] = []
    for group in groups:
        dropped = ~keep[group.key]
        if not dropped.any():
            continue
        for member in group.producers + group.norms:
            index = member.module_index[dropped[member.group_index]]
            if index.numel() == 0:
                continue
            module = modules[member.name]
            names = (_NORM_TENSORS
                     if member.role == NORM else _LAYER_TENSORS)
            for attr in names:
                tensor = getattr(module, attr, None)
                if isinstance(tensor, torch.Tensor):
                    plan.append((tensor, 0, index.to(tensor.device)))
    return plan


@torch.no_grad()
def apply_plan(plan: List[ZeroOp]) -> None:
    """Set every planned entry to zero, in place."""
    for tensor, dim, index in plan:
        tensor.index_fill_(dim, index, 0)


@torch.no_grad()
def mask_optimizer_state(optimizer: torch.optim.Optimizer,
                         plan: List[ZeroOp]) -> None:
    """Zero the optimiser state (momentum, moments) of masked entries.

    Args:
        optimizer (Optimizer): A torch optimiser.
        plan (list): :func:`zero_plan` output for the trained model.
    """
    for tensor, dim, index in plan:
        state = optimizer.state.get(tensor)
        if not state:
            continue
        for value in state.values():
            if (isinstance(value, torch.Tensor)
                    and value.shape == tensor.shape):
                value.index_fill_(dim, index, 0)


def kept_fraction(keep: Dict[str, torch.Tensor]) -> float:
    """Fraction of prunable channels kept, in [0, 1]."""
    total = sum(int(k.numel()) for k in keep.values())
    kept = sum(int(k.sum()) for k in keep.values())
    return kept / max(total, 1)


def check_group_keys(expected: Sequence[str], given: Mapping) -> None:
    """Raise a KeyError listing groups missing from or unknown to a
    per-group mapping (masks, widths) made for another model."""
    missing = sorted(set(expected) - set(given))
    unknown = sorted(set(given) - set(expected))
    if missing or unknown:
        raise KeyError(
            'the pruning record does not match this model: groups missing '
            f'from the record {missing}, groups the model does not have '
            f'{unknown}; was it made with the same model config, scope and '
            'ignored_layers?')


def width_masks(groups: Sequence[ChannelGroup],
                widths: Mapping[str, int]) -> Dict[str, torch.Tensor]:
    """Masks that keep the first ``widths[key]`` channels of each group."""
    check_group_keys([g.key for g in groups], widths)
    keep = {}
    for group in groups:
        width = int(widths[group.key])
        if not 1 <= width <= group.num_channels:
            raise ValueError(
                f'channels[{group.key!r}]={width} is outside [1, '
                f'{group.num_channels}]')
        mask = torch.zeros(group.num_channels, dtype=torch.bool)
        mask[:width] = True
        keep[group.key] = mask
    return keep
