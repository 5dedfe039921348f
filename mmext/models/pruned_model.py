"""``mmext.PrunedModel``: the slim model of a pruned checkpoint, from a
config.

``tools/pruning/export_pruned.py`` writes configs whose ``model`` is
``dict(type='mmext.PrunedModel', model=<dense model>, channels=...)``; this
thin registered builder makes the dense model and cuts it with
:func:`mmext.pruning.export.cut_to_widths`.
"""
from typing import Dict, Optional, Sequence

from torch import nn

from mmext.pruning.export import cut_to_widths
from mmext.registry import MODELS

__all__ = ['build_pruned_model']


@MODELS.register_module(name='PrunedModel')
def build_pruned_model(model: dict,
                       channels: Dict[str, int],
                       input_shape: Sequence[int],
                       scope: Optional[Sequence[str]] = None,
                       ignored_layers: Sequence[str] = (),
                       data_preprocessor: Optional[dict] = None
                       ) -> nn.Module:
    """Build ``model`` and cut every channel group to its recorded width.

    The module returned is the dense model's own class, so data
    preprocessing, losses and ``forward(mode=...)`` are unchanged.

    Args:
        model (dict): The dense model config.
        channels (dict[str, int]): Group key to kept channels.
        input_shape (Sequence[int]): Tracing input shape (C, H, W).
        scope (Sequence[str], optional): Pruned sub-modules, as in
            ``mmext.HALPHook``.
        ignored_layers (Sequence[str]): As in ``mmext.HALPHook``.
        data_preprocessor (dict, optional): The runner's top-level
            ``data_preprocessor`` (mmpretrain's configs set it beside the
            model); the dense model's own one wins.

    Returns:
        nn.Module: The slim model (weights initialised, not trained).
    """
    if data_preprocessor is not None:
        model = dict(model)
        model.setdefault('data_preprocessor', data_preprocessor)
    return cut_to_widths(MODELS.build(model), channels, input_shape, scope,
                         ignored_layers)
