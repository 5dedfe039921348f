"""The timed layers of a model, recorded from one forward.

:func:`collect_layer_signatures` runs a model once with forward pre-hooks
and returns the :class:`~.keys.LayerSignature` of every Conv2d and Linear
(and, for the extended latency model, every MaxPool2d and AvgPool2d) it
calls, as HALP (Shen et al., arXiv:2110.10811) needs to look each layer up
in the latency table.
"""
import contextlib
import math
from typing import Any, Dict, Iterator, Optional

import torch
from torch import nn

from .keys import AVGPOOL, CONV, LINEAR, MAXPOOL, LayerSignature

__all__ = ['collect_layer_signatures', 'call_module', 'eval_mode']

_POOLS = {nn.MaxPool2d: MAXPOOL, nn.AvgPool2d: AVGPOOL}


def _layer_kind(module: nn.Module, pools: bool) -> Optional[str]:
    """Kind of ``module`` if :func:`collect_layer_signatures` records it."""
    if isinstance(module, nn.Conv2d):
        return CONV
    if isinstance(module, nn.Linear):
        return LINEAR
    if pools:
        for pool_type, kind in _POOLS.items():
            if isinstance(module, pool_type):
                return kind
    return None


def _signature_of(module: nn.Module, kind: str, inp: torch.Tensor,
                  batch: Optional[int]) -> LayerSignature:
    """Signature of ``module`` called on ``inp`` (N, C, H, W) or (N, *, C).
    """
    batch = int(inp.shape[0]) if batch is None else batch
    if kind == LINEAR:
        return LayerSignature(
            LINEAR, batch, module.in_features, module.out_features,
            in_size=(1, math.prod(inp.shape[1:-1])),
            bias=module.bias is not None)
    size = (int(inp.shape[-2]), int(inp.shape[-1]))
    if kind == CONV:
        padding = module.padding
        if isinstance(padding, str):  # 'valid' or 'same' (odd kernels)
            padding = tuple(
                d * (k - 1) // 2 if padding == 'same' else 0
                for d, k in zip(module.dilation, module.kernel_size))
        return LayerSignature(
            CONV, batch, module.in_channels, module.out_channels, size,
            module.kernel_size, module.stride, padding, module.dilation,
            module.groups, module.bias is not None)
    chans = int(inp.shape[1])
    return LayerSignature(
        kind, batch, chans, chans, size, module.kernel_size,
        module.stride or module.kernel_size, module.padding,
        getattr(module, 'dilation', 1), chans)


def call_module(module: nn.Module, inputs: Any) -> Any:
    """``module(inputs)``, unpacking a tuple/list or dict of arguments."""
    if isinstance(inputs, dict):
        return module(**inputs)
    if isinstance(inputs, (tuple, list)):
        return module(*inputs)
    return module(inputs)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode inside; every submodule's training flag restored after.
    """
    flags = {layer: layer.training for layer in module.modules()}
    try:
        module.eval()
        yield
    finally:
        for layer, flag in flags.items():
            layer.training = flag


def collect_layer_signatures(module: nn.Module,
                             example_inputs: Any,
                             batch: Optional[int] = None,
                             pools: bool = False
                             ) -> Dict[str, LayerSignature]:
    """Record the signature of every Conv2d and Linear of ``module``.

    Runs one forward in eval mode under ``torch.no_grad`` with forward
    pre-hooks that read each layer's input size, then restores every
    submodule's training flag. A layer called more than once (e.g. a
    detection head shared by the FPN levels) keeps its first call only.

    Args:
        module (nn.Module): the model.
        example_inputs (Tensor | tuple | dict): forward arguments, e.g. a
            (N, 3, H, W) image batch.
        batch (int, optional): batch size recorded in the signatures;
            defaults to each layer's input batch.
        pools (bool): also record MaxPool2d and AvgPool2d layers (the
            extended latency model). Defaults to False.

    Returns:
        Dict[str, LayerSignature]: keyed by the ``named_modules`` name, in
        call order.
    """
    signatures: Dict[str, LayerSignature] = {}

    def record(name: str, kind: str):

        def hook(layer: nn.Module, args: tuple) -> None:
            if name not in signatures:
                signatures[name] = _signature_of(layer, kind, args[0], batch)

        return hook

    handles = [
        layer.register_forward_pre_hook(record(name, kind))
        for name, layer in module.named_modules()
        for kind in [_layer_kind(layer, pools)] if kind is not None
    ]
    try:
        with eval_mode(module), torch.no_grad():
            call_module(module, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return signatures
