"""Checks of a config's model that run before the runner starts.

``tools/train.py`` and ``tools/test.py`` call :func:`check_model_config`
before the runner creates the work dir: an mmext model class with a static
``check_config(model_cfg)`` method (such as ``mmext.DICODDistiller``, whose
teacher checkpoint, classes and normalisation are checked) reports a bad
config in a second, with the field to fix, and nothing is written.
"""
from typing import Mapping


def check_model_config(cfg: Mapping) -> None:
    """Run the ``check_config`` of ``cfg.model``'s mmext class, if any.

    Args:
        cfg: A full config (``mmengine.Config`` or dict).

    Raises:
        ValueError, FileNotFoundError: from the model's own check.
    """
    model = cfg.get('model', None)
    if not isinstance(model, Mapping):
        return
    type_name = model.get('type', None)
    if not isinstance(type_name, str) or not type_name.startswith('mmext.'):
        return
    from mmengine.registry import MODELS
    model_class = MODELS.get(type_name)
    check = getattr(model_class, 'check_config', None)
    if callable(check):
        check(dict(model))
