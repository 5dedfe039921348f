"""Checkpoints of a model that wraps another under one attribute.

A wrapper such as DICOD's distiller (``student``) or the flip-consistency
detector (``detector``) keeps the wrapped detector as a submodule, so its
state dict would prefix every key with the attribute name. The hooks here
keep the wrapped model's own keys instead: the stock config of the wrapped
model loads the wrapper's checkpoints unchanged, and a stock checkpoint
loads back into the wrapper. Entries of the wrapper outside the wrapped
model are left out of its state dict.
"""
import functools

from torch import nn


def wrapped_keys_only(module: nn.Module, state_dict: dict, prefix: str,
                      local_metadata: dict, child: str) -> dict:
    """State-dict hook: keep only ``child``'s entries, under its own keys.

    Args:
        module: The wrapper (unused; the hook signature's).
        state_dict: The wrapper's state dict, edited in place.
        prefix: The wrapper's own prefix in ``state_dict``.
        local_metadata: Unused; the hook signature's.
        child: The wrapped model's attribute name.
    """
    child_prefix = prefix + child + '.'
    for key in list(state_dict.keys()):
        if not key.startswith(prefix):
            continue
        value = state_dict.pop(key)
        if key.startswith(child_prefix):
            state_dict[prefix + key[len(child_prefix):]] = value
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        for key in list(metadata.keys()):
            if key == prefix + child:
                metadata[prefix[:-1]] = metadata.pop(key)
            elif key.startswith(child_prefix):
                metadata[prefix + key[len(child_prefix):]] = metadata.pop(key)
    return state_dict


def add_wrapped_prefix(state_dict: dict, prefix: str, local_metadata: dict,
                       strict: bool, missing_keys: list,
                       unexpected_keys: list, error_msgs: list,
                       child: str) -> None:
    """Load pre-hook: a wrapped model's own keys load into ``child``.

    Args:
        state_dict: The state dict being loaded, edited in place.
        prefix: The wrapper's own prefix in ``state_dict``.
        child: The wrapped model's attribute name. The other arguments are
            the hook signature's.
    """
    child_prefix = prefix + child + '.'
    for key in list(state_dict.keys()):
        if key.startswith(prefix) and not key.startswith(child_prefix):
            state_dict[child_prefix + key[len(prefix):]] = state_dict.pop(key)


def keep_wrapped_keys(module: nn.Module, child: str) -> None:
    """Give ``module``'s checkpoints the keys of its submodule ``child``.

    Args:
        module: The wrapper.
        child: The attribute holding the wrapped model.
    """
    module._register_state_dict_hook(
        functools.partial(wrapped_keys_only, child=child))
    module._register_load_state_dict_pre_hook(
        functools.partial(add_wrapped_prefix, child=child))
