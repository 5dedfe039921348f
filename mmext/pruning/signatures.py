"""The timed layers of a pruning scope, named as in the model.

Glue between :mod:`.graph` (which traces the scope through a wrapper) and
:mod:`.latency` (which records each layer's signature from one forward), for
HALP (Shen et al., arXiv 2110.10811): the latency of a pruned network is
read per layer from the lookup table.
"""
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from .graph import strip_wrapper_prefix, traceable
from .latency import LayerSignature, collect_layer_signatures


def scope_signatures(model: nn.Module,
                     scope: Optional[Sequence[str]],
                     example_inputs: torch.Tensor,
                     batch: int,
                     pools: bool = False) -> Dict[str, LayerSignature]:
    """The timed layers of a pruning scope, keyed by model module name.

    Args:
        model (nn.Module): The unwrapped model.
        scope (Sequence[str], optional): See
            :func:`mmext.pruning.graph.traceable`.
        example_inputs (Tensor): One input batch [1, C, H, W].
        batch (int): The batch size the latency is for.
        pools (bool): Also record pooling layers (the extended latency
            model, :attr:`mmext.pruning.latency.LatencyLUT.extended`).

    Returns:
        dict[str, LayerSignature]: In call order.
    """
    signatures = collect_layer_signatures(
        traceable(model, scope), example_inputs, batch=batch, pools=pools)
    return {strip_wrapper_prefix(n): s for n, s in signatures.items()}
