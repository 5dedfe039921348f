"""The model behind MMEngine's wrappers."""
from torch import nn

__all__ = ['unwrap']


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP (or other MMEngine) wrapper, else ``model``.

    Args:
        model (nn.Module): A model, wrapped (``runner.model`` under a
            distributed launcher) or not.

    Returns:
        nn.Module: ``model.module`` for an MMEngine model wrapper, else
        ``model`` itself.
    """
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model
