"""Deprecated: the config plumbing of the pruning tools moved out of the
pruning core.

``pruning_hook_index``, ``pruning_hook_cfg`` and ``PRUNING_HOOKS`` are in
:mod:`mmext.engine.hooks.pruning_config`; ``build_model`` is replaced by
:func:`mmext.apis.init_model`. The old names keep working for one release
with a ``DeprecationWarning``.
"""
import importlib

#: old name -> (new module, new name)
_MOVED = {
    'pruning_hook_index': ('mmext.engine.hooks.pruning_config',
                           'pruning_hook_index'),
    'pruning_hook_cfg': ('mmext.engine.hooks.pruning_config',
                         'pruning_hook_cfg'),
    'PRUNING_HOOKS': ('mmext.engine.hooks.pruning_config', 'PRUNING_HOOKS'),
    'build_model': ('mmext.apis', 'init_model'),
}
__all__ = list(_MOVED)


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    module, new_name = _MOVED[name]
    from mmext.utils.deprecation import warn_moved
    warn_moved(f'mmext.pruning.from_config.{name}', f'{module}.{new_name}')
    return getattr(importlib.import_module(module), new_name)
