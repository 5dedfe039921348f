"""DICOD: distilling an image classifier into any mmdet detector.

Guo et al., "Distilling Image Classifiers in Object Detectors", NeurIPS 2021
(arXiv 2106.05209). A classifier trained on the detection set's object
crops teaches the detector on its positive anchors or proposals:

- KD_cls (Sec. 3.1): the classifier's distribution on the crop of each
  positive's assigned ground truth is the target of the positive's class
  scores (:func:`mmext.distillation.kd_cls_softmax` /
  :func:`~mmext.distillation.kd_cls_sigmoid`);
- KD_loc (Sec. 3.2): crops under the predicted and the ground-truth box
  must look alike to the classifier (:func:`mmext.distillation.kd_loc`).

The reference code (an mmdet 2.10 fork, SSD only) computes the teacher
outputs in a forked runner and, in its generic anchor head, distils every
anchor; here the distiller is an ordinary model (``loss`` / ``predict`` /
``tensor``) and distils the positives only, for Faster R-CNN's RoI head as
for one-stage anchor heads.
"""
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from mmengine.config import ConfigDict
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor

from mmext.distillation import (crop_boxes, kd_cls_sigmoid, kd_cls_softmax,
                                kd_loc)
from mmext.models.utils import keep_wrapped_keys
from mmext.registry import MODELS
from mmext.utils.validation import is_int_at_least
from ..wrapped_detector import WrappedDetector
from .checks import (check_normalisation, check_num_classes,
                     check_student_head, check_teacher_ckpt)
from .positives import AnchorHeadPositives, RoIHeadPositives
from .teacher import FrozenTeacher, teacher_model_cfg


@dataclass(frozen=True)
class KDClsConfig:
    """KD_cls settings (the paper's best: T = 2, weight 0.4, Table 3a).

    Attributes:
        T: Softmax / sigmoid temperature.
        loss_weight: lambda_kc of Eq. 12.
        crop_size: Side of the teacher's input crops (the paper: 112).
    """
    T: float = 2.0  # noqa: N815 (the paper's symbol)
    loss_weight: float = 0.4
    crop_size: int = 112

    def __post_init__(self) -> None:
        _check_positive('kd_cls', T=self.T, loss_weight=self.loss_weight,
                        crop_size=self.crop_size)


@dataclass(frozen=True)
class KDLocConfig:
    """KD_loc settings (the released SSD300 recipe: one weight 0.15 for the
    pixel and stem terms, 112 px crops, 4x4 and 8x8 pooling).

    Attributes:
        loss_weight: Weight of the whole localisation term.
        layers: ``-1`` pixels, ``0`` the teacher's stem, ``i`` its stage i.
        pool_sizes: Pooled side per entry of ``layers``.
        crop_size: Crop side in pixels.
        max_positives: Distil at most this many positives per batch, drawn
            uniformly without replacement (torch's global generator, which
            MMEngine's ``randomness.seed`` seeds); None distils them all, as
            the paper does. An mmext option, not the paper's: the loss is a
            mean over positives, so the subset's mean is an unbiased
            estimate of it, and the teacher's cost stops growing with the
            number of positives (a one-stage head assigns every ground truth
            many anchors).
    """
    loss_weight: float = 0.15
    layers: Tuple[int, ...] = (-1, 0)
    pool_sizes: Tuple[int, ...] = (4, 8)
    crop_size: int = 112
    max_positives: Optional[int] = None

    def __post_init__(self) -> None:
        _check_positive('kd_loc', loss_weight=self.loss_weight,
                        crop_size=self.crop_size)
        if self.max_positives is not None and not is_int_at_least(
                self.max_positives, 1):
            raise ValueError('kd_loc.max_positives: an integer >= 1, or None '
                             f'to distil every positive; got '
                             f'{self.max_positives!r}')
        layers, pools = tuple(self.layers), tuple(self.pool_sizes)
        if len(layers) == 0 or len(layers) != len(pools) or min(pools) < 1:
            raise ValueError(
                f'kd_loc.pool_sizes: one size >= 1 per entry of '
                f'kd_loc.layers, got layers={list(layers)}, '
                f'pool_sizes={list(pools)}')
        if min(layers) < -1 or len(set(layers)) != len(layers):
            raise ValueError(f'kd_loc.layers: distinct indices >= -1 (-1 '
                             f'pixels, 0 the teacher stem), got {layers}')
        object.__setattr__(self, 'layers', layers)
        object.__setattr__(self, 'pool_sizes', pools)

    @property
    def teacher_stages(self) -> List[int]:
        """The teacher stages used (the layers other than pixels)."""
        return [layer for layer in self.layers if layer >= 0]


def _check_positive(section: str, **values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f'{section}.{name}: must be > 0, got {value}')


def _kd_settings(cfg: Optional[dict], kind: type, section: str):
    """``kind(**cfg)``, or None when the loss is switched off."""
    if cfg is None or cfg is False:
        return None
    try:
        return kind(**dict(cfg))
    except TypeError as exc:
        raise ValueError(f'{section}: {exc}; known fields: '
                         f'{list(kind.__dataclass_fields__)}') from None


@MODELS.register_module()
class DICODDistiller(WrappedDetector):
    """Any mmdet detector trained with DICOD's classifier distillation.

    ``loss`` adds ``loss_kd_cls`` and ``loss_kd_loc`` to the student's
    losses; ``predict`` and ``tensor`` are the student's alone. The teacher
    is frozen and kept out of the module tree, so the optimizer, DDP and
    checkpoints see only the student, and a checkpoint has the student's own
    keys: the stock mmdet config and ``tools/test.py`` load it unchanged
    (and a stock checkpoint resumes into the distiller).

    Args:
        student: A stock mmdet detector config (one-stage with an
            ``AnchorHead``-style head, or two-stage with a
            ``StandardRoIHead``), unscoped types read in mmdet's scope.
        teacher: The classifier: a model config (type mmpretrain's
            ``ImageClassifier`` by default) or ``dict(cfg_path=...)`` naming
            the config it was trained with. Its ``head.num_classes`` and
            input normalisation must equal the student's.
        teacher_ckpt: The teacher's trained weights (required).
        kd_cls: :class:`KDClsConfig` fields, or None to switch KD_cls off.
        kd_loc: :class:`KDLocConfig` fields, or None to switch KD_loc off.
        init_cfg: MMEngine initialisation config of the distiller.
    """

    wrapped_attribute = 'student'

    def __init__(self,
                 student: dict,
                 teacher: Union[dict, str],
                 teacher_ckpt: Optional[str] = None,
                 kd_cls: Optional[dict] = dict(),
                 kd_loc: Optional[dict] = dict(),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is not None:
            raise ValueError('model.data_preprocessor: set it inside '
                             'model.student; the distiller uses the '
                             'student\'s')
        settings = self.check_config(
            dict(student=student, teacher=teacher, teacher_ckpt=teacher_ckpt,
                 kd_cls=kd_cls, kd_loc=kd_loc))
        student_cfg, teacher_cfg, self.kd_cls, self.kd_loc = settings
        super().__init__(init_cfg=init_cfg)
        self.student = MODELS.build(student_cfg)
        self.data_preprocessor = self.student.data_preprocessor
        if getattr(self.student, 'roi_head', None) is not None:
            self._positives = RoIHeadPositives(self.student.roi_head)
        else:
            self._positives = AnchorHeadPositives(self.student.bbox_head)
        classifier = MODELS.build(teacher_cfg)
        load_checkpoint(classifier, teacher_ckpt, map_location='cpu',
                        strict=True, logger='current')
        self._teacher = FrozenTeacher(classifier)
        if self.kd_loc is not None and self.kd_loc.teacher_stages and \
                not self._teacher.supports_stages():
            raise ValueError(
                f'kd_loc.layers={list(self.kd_loc.layers)}: the teacher '
                f'backbone {type(classifier.backbone).__name__} is not a '
                'ResNet whose stages can be read; use layers=[-1] (pixels '
                'only) or a ResNet teacher')
        keep_wrapped_keys(self, 'student')

    @staticmethod
    def check_config(model_cfg: dict) -> tuple:
        """Check a distiller config without building or writing anything.

        Returns:
            ``(student_cfg, teacher_cfg, kd_cls, kd_loc)``: the configs
            ready to build and the parsed KD settings.

        Raises:
            ValueError, FileNotFoundError: naming the field to fix.
        """
        kd_cls = _kd_settings(model_cfg.get('kd_cls', dict()), KDClsConfig,
                              'kd_cls')
        kd_loc = _kd_settings(model_cfg.get('kd_loc', dict()), KDLocConfig,
                              'kd_loc')
        # ConfigDict: mmdet's detectors read train_cfg.rpn as attributes.
        student = ConfigDict(copy.deepcopy(dict(model_cfg['student'])))
        student.setdefault('_scope_', 'mmdet')
        teacher = ConfigDict(teacher_model_cfg(model_cfg['teacher']))
        check_student_head(student)
        check_num_classes(student, teacher)
        check_normalisation(student, teacher)
        check_teacher_ckpt(model_cfg.get('teacher_ckpt', None))
        return student, teacher, kd_cls, kd_loc

    @property
    def teacher(self) -> FrozenTeacher:
        """The frozen classifier (not a submodule)."""
        return self._teacher

    def _apply(self, fn, *args, **kwargs):
        """``to`` / ``cuda`` / ``float`` ... move the teacher as well."""
        super()._apply(fn, *args, **kwargs)
        self._teacher.model._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'DICODDistiller':
        """Set the student's mode; the teacher stays in eval mode."""
        super().train(mode)
        self._teacher.model.eval()
        return self

    def loss(self, inputs: Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """The student's losses plus ``loss_kd_cls`` and ``loss_kd_loc``.

        Args:
            inputs: ``[B, 3, H, W]`` normalised, padded images.
            data_samples: Their ``gt_instances`` (boxes in pixels of
                ``inputs``) and metainfo.
        """
        with self._positives.recording():
            losses = self.student.loss(inputs, data_samples)
        if self.kd_cls is None and self.kd_loc is None:
            return losses
        gt_boxes = [sample.gt_instances.bboxes for sample in data_samples]
        img_shapes = [sample.metainfo['img_shape'] for sample in data_samples]
        positives = self._positives.positives(
            [len(boxes) for boxes in gt_boxes], img_shapes)
        if self.kd_cls is not None:
            losses['loss_kd_cls'] = self.kd_cls.loss_weight * \
                self._kd_cls_loss(inputs, gt_boxes, img_shapes, positives)
        if self.kd_loc is not None:
            settings = self.kd_loc
            pred_rois = positives.rois(positives.pred_boxes)
            gt_rois = positives.rois(positives.gt_boxes)
            keep = random_subset(len(gt_rois), settings.max_positives,
                                 gt_rois.device)
            if keep is not None:
                pred_rois, gt_rois = pred_rois[keep], gt_rois[keep]
            losses['loss_kd_loc'] = settings.loss_weight * kd_loc(
                self._teacher.stages, inputs, pred_rois, gt_rois,
                settings.layers, settings.pool_sizes, settings.crop_size)
        return losses

    def _kd_cls_loss(self, inputs: Tensor, gt_boxes: Sequence[Tensor],
                     img_shapes: Sequence[Sequence[int]],
                     positives) -> Tensor:
        """KD_cls on the positives, the teacher seeing every ground truth
        crop once."""
        if positives.labels.numel() == 0:
            return positives.cls_logits.sum() * 0
        rois = bbox2roi([
            _clip(boxes, shape) for boxes, shape in zip(gt_boxes, img_shapes)
        ])
        teacher_logits = self._teacher.logits(
            crop_boxes(inputs, rois, self.kd_cls.crop_size))
        targets = teacher_logits[positives.gt_index]
        if positives.sigmoid:
            return kd_cls_sigmoid(positives.cls_logits, targets,
                                  positives.labels, self.kd_cls.T)
        return kd_cls_softmax(positives.cls_logits, targets, self.kd_cls.T)


def random_subset(count: int, limit: Optional[int],
                  device: torch.device) -> Optional[Tensor]:
    """Indices ``[limit]`` of a uniform random subset of ``range(count)``
    (torch's global generator), or None when ``limit`` is None or at least
    ``count`` (keep everything)."""
    if limit is None or count <= limit:
        return None
    return torch.randperm(count, device=device)[:limit]


def _clip(boxes: Tensor, img_shape: Sequence[int]) -> Tensor:
    """``[N, 4]`` boxes clipped to an ``(h, w)`` image (as the reference
    code crops)."""
    height, width = img_shape[:2]
    return torch.stack([
        boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
        boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)
    ], 1)
