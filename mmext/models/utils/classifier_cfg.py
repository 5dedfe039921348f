"""The model config of a classifier that another model uses (a frozen
teacher, an attacked target), resolved from its training config or given
inline, scoped for building."""
import copy
import os.path as osp
from typing import Union

from mmengine.config import Config

__all__ = ['DEFAULT_CLASSIFIER_TYPE', 'classifier_model_cfg']

#: The type when a classifier config gives none: mmpretrain's classifier.
DEFAULT_CLASSIFIER_TYPE = 'mmpretrain.ImageClassifier'


def classifier_model_cfg(classifier: Union[dict, str],
                         field: str = 'model.teacher') -> dict:
    """A classifier's model config, scoped for building.

    Args:
        classifier: A model config, or ``dict(cfg_path=...)`` / a path
            naming the config the classifier was trained with (its
            ``model``, with a top-level ``data_preprocessor`` merged in as
            MMEngine does).
        field: The config field, for error messages.

    Returns:
        A copy with a ``type`` (mmpretrain's ``ImageClassifier`` by default)
        and a ``_scope_``: the type's own scope prefix, or ``'mmpretrain'``
        for unscoped types.

    Raises:
        FileNotFoundError: ``cfg_path`` names no config.
    """
    from mmext.apis.inference import load_config, model_config
    if isinstance(classifier, str):
        classifier = dict(cfg_path=classifier)
    cfg = copy.deepcopy(dict(classifier))
    cfg_path = cfg.pop('cfg_path', None)
    if cfg_path is not None:
        if not isinstance(cfg_path, str) or not (
                '::' in cfg_path or osp.isfile(cfg_path)):
            raise FileNotFoundError(
                f'{field}.cfg_path: no config {cfg_path!r}; name the '
                'config the classifier was trained with')
        base = model_config(load_config(cfg_path))
        base.update(cfg)  # fields given beside cfg_path win
        cfg = base
    cfg = Config(cfg).to_dict() if isinstance(cfg, Config) else cfg
    cfg.setdefault('type', DEFAULT_CLASSIFIER_TYPE)
    if isinstance(cfg['type'], str):
        # Build the classifier's children (its data preprocessor, backbone,
        # head) in the classifier's own scope, not the caller's.
        scope, _, name = cfg['type'].rpartition('.')
        if scope and '_scope_' not in cfg:
            cfg['type'] = name
        cfg.setdefault('_scope_', scope or 'mmpretrain')
    return cfg
