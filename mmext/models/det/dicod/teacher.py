"""The frozen classification teacher of DICOD (Guo et al., NeurIPS 2021,
arXiv 2106.05209, Sec. 3: an image classifier trained on the detection
set's ground-truth objects; frozen while the detector trains)."""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from torch import Tensor, nn

from mmext.distillation.teacher_stages import (is_resnet_like,
                                               resnet_stage_outputs)

#: The teacher type when ``teacher`` gives none: mmpretrain's classifier.
DEFAULT_TEACHER_TYPE = 'mmpretrain.ImageClassifier'


def teacher_model_cfg(teacher: Union[dict, str]) -> dict:
    """The teacher's model config, scoped for building.

    Args:
        teacher: A model config, or ``dict(cfg_path=...)`` / a path naming
            the config the teacher was trained with (its ``model``, with a
            top-level ``data_preprocessor`` merged in as MMEngine does).

    Returns:
        A copy with a ``type`` (mmpretrain's ``ImageClassifier`` by default)
        and a ``_scope_``: the type's own scope prefix, or ``'mmpretrain'``
        for unscoped types.
    """
    from mmext.apis.inference import load_config, model_config
    if isinstance(teacher, str):
        teacher = dict(cfg_path=teacher)
    cfg = copy.deepcopy(dict(teacher))
    cfg_path = cfg.pop('cfg_path', None)
    if cfg_path is not None:
        if not isinstance(cfg_path, str) or not (
                '::' in cfg_path or osp.isfile(cfg_path)):
            raise FileNotFoundError(
                f'model.teacher.cfg_path: no config {cfg_path!r}; name the '
                'config the teacher was trained with (e.g. a '
                'configs/dicod/teacher_*.py file)')
        base = model_config(load_config(cfg_path))
        base.update(cfg)  # fields given beside cfg_path win
        cfg = base
    cfg = Config(cfg).to_dict() if isinstance(cfg, Config) else cfg
    cfg.setdefault('type', DEFAULT_TEACHER_TYPE)
    if isinstance(cfg['type'], str):
        # Build the classifier's children (its data preprocessor, backbone,
        # head) in the classifier's own scope, not the detector's.
        scope, _, name = cfg['type'].rpartition('.')
        if scope and '_scope_' not in cfg:
            cfg['type'] = name
        cfg.setdefault('_scope_', scope or 'mmpretrain')
    return cfg


class FrozenTeacher:
    """A classifier in eval mode with no trainable parameter.

    Not an ``nn.Module`` attribute of the distiller on purpose: kept out of
    ``named_parameters`` it never reaches the optimizer, a checkpoint or
    DDP's gradient buckets; :class:`DICODDistiller` moves it with itself.

    Args:
        model: The built classifier (``extract_feat`` and ``head``, such as
            mmpretrain's ``ImageClassifier``).
    """

    def __init__(self, model: nn.Module) -> None:
        model.eval()  # some backbones' train() return None: no chaining
        model.requires_grad_(False)
        self.model = model

    def logits(self, crops: Tensor) -> Tensor:
        """``[N, C]`` class logits of normalised crops ``[N, 3, s, s]``."""
        with torch.no_grad():
            return self.model.head(self.model.extract_feat(crops))

    def stages(self, crops: Tensor, stages: Sequence[int]) -> List[Tensor]:
        """The backbone's stage outputs (0: the stem) of ``crops``."""
        return resnet_stage_outputs(self.model.backbone, crops, stages)

    def supports_stages(self) -> bool:
        """Whether :meth:`stages` can walk this backbone."""
        return is_resnet_like(getattr(self.model, 'backbone', None) or
                              nn.Module())

    def to(self, *args, **kwargs) -> 'FrozenTeacher':
        """Move or cast the classifier (``nn.Module.to``'s arguments)."""
        self.model.to(*args, **kwargs)
        return self


def num_teacher_classes(teacher_cfg: dict) -> Optional[int]:
    """``head.num_classes`` of a classifier config, if it says."""
    head = teacher_cfg.get('head', None)
    return head.get('num_classes', None) if isinstance(head, dict) else None
