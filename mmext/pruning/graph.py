"""Channel coupling: which output channels must be pruned together.

Structural pruning removes output channels, and every layer that reads or
re-uses those channels (the BatchNorm after a conv, the next conv's input
channels, the other branch of a residual addition, the inputs of a
concatenation) has to follow. mmext does not re-implement that analysis:
Torch-Pruning's ``DependencyGraph`` (Fang et al., "DepGraph: Towards Any
Structural Pruning", CVPR 2023; MIT licence) traces the autograd graph of one
forward pass and returns the coupled groups. This module turns its groups into
:class:`ChannelGroup` records, small plain-data descriptions of who produces,
normalises and consumes each coupled channel, that the rest of
:mod:`mmext.pruning` (saliency, masks, latency, export) works from without
Torch-Pruning's objects.

Groups whose channels reach the traced outputs (a classifier's logits, an
FPN's output levels, which the heads read) are protected, as are groups that
touch ``ignored_layers``.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

Inputs = Union[torch.Tensor, Tuple[torch.Tensor, ...]]

#: Roles a module plays in a group.
PRODUCER = 'producer'  # conv/linear whose output channels are the group's
NORM = 'norm'  # BatchNorm over the group's channels
CONSUMER = 'consumer'  # conv/linear reading the group's channels as inputs


@dataclass
class GroupMember:
    """One module's share of a channel group.

    Attributes:
        name (str): Module name in the model (``named_modules`` spelling).
        role (str): :data:`PRODUCER`, :data:`NORM` or :data:`CONSUMER`.
        module_index (Tensor): Channel indices in the module, shape [M],
            int64 (output channels for producers and norms, input channels
            for consumers).
        group_index (Tensor): The group channel each of those is, shape
            [M], int64.
    """

    name: str
    role: str
    module_index: torch.Tensor
    group_index: torch.Tensor


@dataclass
class ChannelGroup:
    """Output channels that are pruned together, and every module involved.

    Attributes:
        key (str): Stable identifier: the name of the group's first
            producer in ``named_modules()`` order (e.g.
            ``'backbone.layer1.0.conv1'``).
        num_channels (int): Number of coupled channels C.
        members (list[GroupMember]): Producers, norms and consumers.
    """

    key: str
    num_channels: int
    members: List[GroupMember] = field(default_factory=list)

    def by_role(self, role: str) -> List[GroupMember]:
        """Members with the given role."""
        return [m for m in self.members if m.role == role]

    @property
    def producers(self) -> List[GroupMember]:
        """Modules whose output channels are this group's."""
        return self.by_role(PRODUCER)

    @property
    def norms(self) -> List[GroupMember]:
        """BatchNorms over this group's channels."""
        return self.by_role(NORM)

    @property
    def consumers(self) -> List[GroupMember]:
        """Modules that read this group's channels as input."""
        return self.by_role(CONSUMER)


class _TensorModeModel(nn.Module):
    """Traces an MMEngine model through ``forward(x, mode='tensor')``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, mode='tensor')


class _ChainedScope(nn.Module):
    """Traces sub-modules called one after the other (backbone -> neck)."""

    def __init__(self, model: nn.Module, scope: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.scope = list(scope)

    def forward(self, inputs: torch.Tensor):
        out = inputs
        for name in self.scope:
            out = self.model.get_submodule(name)(out)
        return out


def traceable(model: nn.Module,
              scope: Optional[Sequence[str]] = None) -> nn.Module:
    """Wrap ``model`` so that one tensor in gives the pruned scope's outputs.

    Module names inside the wrapper are the model's names with a ``model.``
    prefix, which :func:`build_channel_groups` strips.

    Args:
        model (nn.Module): The (unwrapped) model.
        scope (Sequence[str], optional): Sub-modules to chain, e.g.
            ``('backbone', 'neck')`` for a detector whose heads are not
            pruned. None traces ``model(x, mode='tensor')``, the whole
            network of an mmext classifier or an mmseg segmentor.

    Returns:
        nn.Module: A module whose ``forward(x)`` runs the scope.

    Raises:
        ValueError: If a scope entry is not a sub-module of ``model``.
    """
    if scope is None:
        return _TensorModeModel(model)
    names = dict(model.named_modules())
    for name in scope:
        if name not in names or name == '':
            raise ValueError(
                f'scope entry {name!r} is not a sub-module of '
                f'{type(model).__name__}; use names such as '
                "('backbone', 'neck')")
    return _ChainedScope(model, scope)


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (CPU without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


def example_inputs(model: nn.Module,
                   input_shape: Sequence[int]) -> torch.Tensor:
    """A random batch of one input (C, H, W) on the model's device, in the
    dtype of its first floating-point parameter."""
    param = next((p for p in model.parameters() if p.is_floating_point()),
                 None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    return torch.randn(1, *input_shape, device=model_device(model),
                       dtype=dtype)


def strip_wrapper_prefix(name: str) -> str:
    """A module name inside :func:`traceable`'s wrapper, as in the model."""
    return name[len('model.'):] if name.startswith('model.') else name


def _role(module: nn.Module, handler_name: str) -> Optional[str]:
    """The role of a dependency, or None for ops that own no weights."""
    is_layer = isinstance(module, (nn.modules.conv._ConvNd, nn.Linear))
    if is_layer and handler_name == 'prune_out_channels':
        return PRODUCER
    if is_layer and handler_name == 'prune_in_channels':
        return CONSUMER
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return NORM
    return None


def dependency_graph(model: nn.Module,
                     example_inputs: Inputs,
                     scope: Optional[Sequence[str]] = None):
    """Torch-Pruning's dependency graph of ``model``'s scope.

    The model is traced in eval mode (BatchNorm running statistics are left
    untouched) and restored to its previous mode. Module names in the graph
    carry :func:`traceable`'s ``model.`` prefix.

    Args:
        model (nn.Module): The unwrapped model (not DDP).
        example_inputs (Tensor | tuple[Tensor]): An input batch for the
            scope, e.g. ``torch.randn(1, 3, 224, 224)``.
        scope (Sequence[str], optional): See :func:`traceable`.

    Returns:
        torch_pruning.DependencyGraph: The traced graph.
    """
    import torch_pruning as tp  # optional dependency, imported on use

    wrapper = traceable(model, scope)
    was_training = model.training
    model.eval()
    try:
        return tp.DependencyGraph().build_dependency(
            wrapper, example_inputs=example_inputs, verbose=False)
    finally:
        model.train(was_training)


def output_modules(graph) -> set:
    """The modules of a traced graph whose outputs leave the traced scope.

    Their output channels are what the scope's consumers read (a
    classifier's logits, an FPN's levels), so pruning keeps them.

    Args:
        graph (torch_pruning.DependencyGraph): From
            :func:`dependency_graph`.

    Returns:
        set[nn.Module]: The graph's output modules.
    """
    return {
        node.module
        for node in graph.module2node.values() if not node.outputs
    }


def output_producers(graph) -> set:
    """The conv / linear layers whose output channels reach the traced
    outputs, directly or through coupled layers (an FPN level that also
    feeds a pooled extra level, a classifier's logits).

    These are the producers of the groups :func:`build_channel_groups`
    leaves out; a pruner that is told to ignore them keeps every output
    channel the scope's consumers read.

    Args:
        graph (torch_pruning.DependencyGraph): From
            :func:`dependency_graph`.

    Returns:
        set[nn.Module]: The protected layers.
    """
    outputs = output_modules(graph)
    protected = set()
    for tp_group in graph.get_all_groups(
            root_module_types=(nn.modules.conv._ConvNd, nn.Linear)):
        items = [(item.dep.target.module,
                  getattr(item.dep.handler, '__name__', ''))
                 for item in tp_group.items]
        producers = [m for m, handler in items
                     if _role(m, handler) == PRODUCER]
        if any(type(m).__name__ == '_OutputOp' for m, _ in items) or any(
                m in outputs for m in producers):
            protected.update(producers)
    return protected


def build_channel_groups(
        model: nn.Module,
        example_inputs: Inputs,
        scope: Optional[Sequence[str]] = None,
        ignored_layers: Sequence[str] = (),
        graph=None) -> List[ChannelGroup]:
    """Trace ``model`` and return its prunable channel groups.

    Args:
        model (nn.Module): The unwrapped model (not DDP).
        example_inputs (Tensor | tuple[Tensor]): An input batch for the
            scope, e.g. ``torch.randn(1, 3, 224, 224)``.
        scope (Sequence[str], optional): See :func:`traceable`.
        ignored_layers (Sequence[str]): Module names whose output channels
            must not be pruned (e.g. ``('backbone.conv1',)`` to protect the
            stem as HALP does). Groups containing them are dropped.
        graph (torch_pruning.DependencyGraph, optional): A graph of the same
            model and scope from :func:`dependency_graph`, to trace only
            once; None traces here.

    Returns:
        list[ChannelGroup]: Prunable groups in a deterministic order (the
        order of their first producer in ``model.named_modules()``).

    Raises:
        ValueError: If an ignored layer does not exist.
    """
    names = set(name for name, _ in model.named_modules())
    unknown = [n for n in ignored_layers if n not in names]
    if unknown:
        raise ValueError(f'ignored_layers: no module named {unknown} in '
                         f'{type(model).__name__}')
    if graph is None:
        graph = dependency_graph(model, example_inputs, scope)

    outputs = output_modules(graph)
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    groups: List[ChannelGroup] = []
    for tp_group in graph.get_all_groups(
            root_module_types=(nn.modules.conv._ConvNd, nn.Linear)):
        group = _convert(tp_group, graph, outputs, set(ignored_layers))
        if group is not None:
            first = min(group.producers, key=lambda m: order.get(m.name, 0))
            group.key = first.name
            groups.append(group)
    groups.sort(key=lambda g: order.get(g.key, len(order)))
    return groups


def _convert(tp_group, graph, output_modules: set,
             ignored: set) -> Optional[ChannelGroup]:
    """One Torch-Pruning group as a :class:`ChannelGroup`, or None."""
    members: List[GroupMember] = []
    num_channels = 0
    for item in tp_group.items:
        dep, idxs, root_idxs = item.dep, item.idxs, item.root_idxs
        module = dep.target.module
        if type(module).__name__ == '_OutputOp':
            return None  # the channels reach the traced outputs
        role = _role(module, getattr(dep.handler, '__name__', ''))
        if role is None:
            continue
        name = strip_wrapper_prefix(graph._module2name[module])
        if role == PRODUCER and (module in output_modules
                                 or name in ignored):
            return None
        members.append(
            GroupMember(
                name=name,
                role=role,
                module_index=torch.as_tensor(list(idxs), dtype=torch.long),
                group_index=torch.as_tensor(
                    list(root_idxs), dtype=torch.long)))
        num_channels = max(num_channels, max(root_idxs) + 1)
    members = _dedupe(members)
    producers = [m for m in members if m.role == PRODUCER]
    if not producers:
        return None
    return ChannelGroup(
        key=producers[0].name, num_channels=num_channels, members=members)


def _dedupe(members: List[GroupMember]) -> List[GroupMember]:
    """Drop repeated (name, role) entries that a graph may list twice."""
    seen: Dict[Tuple[str, str], GroupMember] = {}
    for member in members:
        seen.setdefault((member.name, member.role), member)
    return list(seen.values())
