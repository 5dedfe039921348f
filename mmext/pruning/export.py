"""Physical slimming: remove masked channels for real.

Masks (:mod:`mmext.pruning.masks`) only zero channels; latency falls when
they are cut out of the weight tensors. Torch-Pruning's dependency graph
(Fang et al., CVPR 2023) does the per-layer surgery: for every group, the
masked output channels of its first producer are removed and the graph
removes the coupled channels of every other layer (BatchNorms, residual
partners, the next layers' inputs). Because a masked BatchNorm outputs
exactly zero, the slim network computes what the masked one computes (HALP,
Shen et al., arXiv 2110.10811, builds its slim ResNet the same way from its
masks).

:func:`cut_to_widths` rebuilds the slim architecture from the dense one:
each group cut to its recorded width by keeping its first channels, which is
where :func:`slim_model` put the kept ones. A slim checkpoint loads into it
with ``strict=True``. Configs reach it as ``mmext.PrunedModel``
(:func:`mmext.models.pruned_model.build_pruned_model`).
"""
import copy
from typing import Callable, Dict, List, Mapping, Optional, Sequence, \
    Tuple

import torch
from torch import nn

from .graph import ChannelGroup, build_channel_groups, dependency_graph, \
    example_inputs, strip_wrapper_prefix
from .masks import apply_plan, check_group_keys, width_masks, zero_plan
from .record import PruningRecord


def _prune_group(graph, modules: Dict[str, nn.Module], group: ChannelGroup,
                 dropped: torch.Tensor) -> None:
    """Remove the ``dropped`` group channels (bool [C]) from the model."""
    import torch_pruning as tp

    member = next(m for m in group.producers if m.name == group.key)
    index = member.module_index[dropped[member.group_index]]
    if index.numel() == 0:
        return
    layer = modules[group.key]
    prune_fn = (
        tp.prune_linear_out_channels
        if isinstance(layer, nn.Linear) else tp.prune_conv_out_channels)
    graph.get_pruning_group(layer, prune_fn,
                            idxs=sorted(index.tolist())).prune()


def slim_model(model: nn.Module,
               keep: Mapping[str, torch.Tensor],
               input_shape: Sequence[int],
               scope: Optional[Sequence[str]] = None,
               ignored_layers: Sequence[str] = ()) -> nn.Module:
    """Remove the masked channels of ``model`` in place and return it.

    Args:
        model (nn.Module): The unwrapped model whose groups ``keep``
            describes (same scope and ignored layers).
        keep (dict[str, Tensor]): Group key to bool mask [C].
        input_shape (Sequence[int]): One input's shape, e.g. (3, 224, 224).
        scope (Sequence[str], optional): See
            :func:`mmext.pruning.graph.traceable`.
        ignored_layers (Sequence[str]): As when the masks were made.

    Returns:
        nn.Module: ``model``, slimmed.

    Raises:
        KeyError: If ``keep`` names a group the model does not have, or
            misses one it has.
    """
    return _slim(model, input_shape, scope, ignored_layers, lambda _: keep)


def _slim(model: nn.Module, input_shape: Sequence[int],
          scope: Optional[Sequence[str]], ignored_layers: Sequence[str],
          masks_for: Callable[[List[ChannelGroup]],
                              Mapping[str, torch.Tensor]]) -> nn.Module:
    """Trace once, ask ``masks_for(groups)`` which channels stay, cut."""
    graph = dependency_graph(model, example_inputs(model, input_shape),
                             scope)
    groups = build_channel_groups(
        model, None, scope, ignored_layers, graph=graph)
    keep = masks_for(groups)
    check_group_keys([g.key for g in groups], keep)
    modules = {
        strip_wrapper_prefix(n): m
        for n, m in graph.model.named_modules()
    }
    for group in groups:
        dropped = ~keep[group.key].to(torch.bool)
        if dropped.all():
            raise ValueError(
                f'group {group.key!r} would lose all its channels; '
                'keep at least one')
        _prune_group(graph, modules, group, dropped)
    return model


def rebuild_slim(dense: nn.Module, state_dict: dict, record: PruningRecord,
                 groups: List[ChannelGroup],
                 hook: dict) -> Tuple[nn.Module, nn.Module]:
    """The checkpoint's model as the pruning left it, and its slim version.

    Args:
        dense (nn.Module): The config's dense model (initial weights).
        state_dict (dict): The checkpoint's weights.
        record (PruningRecord): Its pruning record, checked against
            ``groups``.
        groups (list[ChannelGroup]): The dense model's channel groups.
        hook (dict): The pruning hook's config (input_shape, scope,
            ignored_layers).

    Returns:
        tuple[nn.Module, nn.Module]: The reference the slim model must
        match (HALP: the dense model with the checkpoint's weights and the
        pruned channels zeroed; EPI after it pruned: the slim model itself)
        and the slim model with the checkpoint's weights, both in eval
        mode.
    """
    shape = tuple(hook['input_shape'])
    scope, ignored = hook.get('scope'), hook.get('ignored_layers', ())
    keep = record.current_keep()
    if record.holds_slim_weights():
        slim = slim_model(copy.deepcopy(dense), keep, shape, scope, ignored)
        slim.load_state_dict(state_dict, strict=True)
        return slim.eval(), slim.eval()
    masked = copy.deepcopy(dense)
    masked.load_state_dict(state_dict, strict=True)
    apply_plan(zero_plan(masked, groups, keep))
    slim = slim_model(copy.deepcopy(masked), keep, shape, scope, ignored)
    return masked.eval(), slim.eval()


def kept_widths(keep: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """Group key to number of kept channels, the slim architecture."""
    return {key: int(mask.sum()) for key, mask in keep.items()}


def cut_to_widths(model: nn.Module,
                  channels: Mapping[str, int],
                  input_shape: Sequence[int],
                  scope: Optional[Sequence[str]] = None,
                  ignored_layers: Sequence[str] = ()) -> nn.Module:
    """Cut every channel group of ``model`` to its recorded width, in place.

    Each group keeps its first ``channels[key]`` channels, which is where
    :func:`slim_model` put the kept ones, so the weights of a slimmed
    checkpoint load into the result with ``strict=True``.

    Args:
        model (nn.Module): The dense model (weights are irrelevant).
        channels (dict[str, int]): Group key to kept channels
            (:func:`kept_widths`).
        input_shape (Sequence[int]): Tracing input shape (C, H, W).
        scope (Sequence[str], optional): Pruned sub-modules, as in
            ``mmext.HALPHook``.
        ignored_layers (Sequence[str]): As in ``mmext.HALPHook``.

    Returns:
        nn.Module: ``model``, slim.

    Raises:
        KeyError: If ``channels`` names a group the model does not have, or
            misses one it has.
    """
    return _slim(model, input_shape, scope, ignored_layers,
                 lambda groups: width_masks(groups, channels))


def __getattr__(name: str):
    if name != 'build_pruned_model':
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    from mmext.utils.deprecation import warn_moved
    warn_moved('mmext.pruning.export.build_pruned_model',
               'mmext.models.pruned_model.build_pruned_model (registered '
               'as mmext.PrunedModel)')
    from mmext.models.pruned_model import build_pruned_model
    return build_pruned_model
