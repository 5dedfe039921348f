"""Config plumbing shared by ``tools/pruning/*``: the pruning hook's
settings and the model of an OpenMMLab config."""
import copy

from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.utils import import_modules_from_strings
from torch import nn

PRUNING_HOOKS = ('HALPHook', 'EPIHook')


def pruning_hook_cfg(cfg: Config) -> dict:
    """The ``custom_hooks`` entry of mmext's pruning hook in ``cfg``.

    Raises:
        ValueError: If the config has none, naming the fix.
    """
    for hook in cfg.get('custom_hooks', None) or []:
        name = str(hook.get('type', '')).split('.')[-1]
        if name in PRUNING_HOOKS:
            return copy.deepcopy(dict(hook))
    raise ValueError(
        f'{cfg.filename}: custom_hooks has no mmext pruning hook '
        f'({", ".join("mmext." + h for h in PRUNING_HOOKS)}); the tool '
        'reads input_shape, scope, ignored_layers and channel_group_size '
        'from it. Add one, e.g. dict(type="mmext.HALPHook", ...).')


def build_model(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` under the config's default scope and imports."""
    imports = cfg.get('custom_imports', None)
    if imports:
        import_modules_from_strings(**imports)
    init_default_scope(cfg.get('default_scope', 'mmext'))
    return MODELS.build(cfg.model)
