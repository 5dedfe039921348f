"""Helpers shared by mmext's registered models."""
from .classifier_cfg import classifier_model_cfg
from .instance_patch import patched_method
from .norm import resolve_sync_norm
from .wrapped_state import keep_wrapped_keys

__all__ = [
    'classifier_model_cfg', 'keep_wrapped_keys', 'patched_method',
    'resolve_sync_norm'
]
