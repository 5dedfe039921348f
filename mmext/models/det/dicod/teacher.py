"""The frozen classification teacher of DICOD (Guo et al., NeurIPS 2021,
arXiv 2106.05209, Sec. 3: an image classifier trained on the detection
set's ground-truth objects; frozen while the detector trains)."""
from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmext.distillation.teacher_stages import (is_resnet_like,
                                               resnet_stage_outputs)
from mmext.models.utils.classifier_cfg import classifier_model_cfg


def teacher_model_cfg(teacher: Union[dict, str]) -> dict:
    """The teacher's model config, scoped for building: a model config, or
    ``dict(cfg_path=...)`` / a path naming the config the teacher was
    trained with (:func:`mmext.models.utils.classifier_model_cfg`; a
    ``configs/dicod/teacher_*.py`` file)."""
    return classifier_model_cfg(teacher, 'model.teacher')


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
