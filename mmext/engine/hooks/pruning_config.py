"""The pruning hook's settings in a config, for ``tools/pruning/*`` and the
pruning analysis tools."""
import copy
from typing import Sequence

from mmengine.config import Config

__all__ = ['PRUNING_HOOKS', 'pruning_hook_index', 'pruning_hook_cfg']

PRUNING_HOOKS = ('HALPHook', 'EPIHook')


def pruning_hook_index(cfg: Config,
                       names: Sequence[str] = PRUNING_HOOKS) -> int:
    """Position in ``cfg.custom_hooks`` of the first hook named in
    ``names`` (the type's last dotted part, so ``mmext.EPIHook`` matches
    ``'EPIHook'``).

    Raises:
        ValueError: If the config has none, naming the fix.
    """
    for index, hook in enumerate(cfg.get('custom_hooks', None) or []):
        if str(hook.get('type', '')).split('.')[-1] in names:
            return index
    raise ValueError(
        f'{cfg.filename}: custom_hooks has no mmext pruning hook '
        f'({", ".join("mmext." + h for h in names)}); the tool reads its '
        'settings (input_shape, scope, ignored_layers, ...) from it. Add '
        f'one, e.g. dict(type="mmext.{names[0]}", ...); configs/halp and '
        'configs/epi have examples.')


def pruning_hook_cfg(cfg: Config) -> dict:
    """A copy of the ``custom_hooks`` entry of mmext's pruning hook.

    Raises:
        ValueError: If the config has none, naming the fix.
    """
    return copy.deepcopy(dict(cfg.custom_hooks[pruning_hook_index(cfg)]))
