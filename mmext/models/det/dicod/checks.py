"""Checks of a DICOD model config that need nothing built or written.

``tools/train.py`` runs them before the runner creates the work dir (through
:func:`mmext.utils.model_check.check_model_config`), and
:class:`DICODDistiller` runs them again before it builds anything, so a bad
teacher fails at once with the field to fix.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
from mmengine.registry import MODELS as ROOT_MODELS

from ..head_support import unsupported_head_reason
from .teacher import num_teacher_classes


def registered_class(cfg: dict, scope: str, field: str) -> type:
    """The class a model config's ``type`` names (nothing is built).

    Args:
        cfg: A config with a ``type``.
        scope: The scope of unscoped names (``cfg['_scope_']`` wins).
        field: The config field, for the error message.
    """
    type_name = cfg.get('type', None)
    if isinstance(type_name, type):
        return type_name
    if not isinstance(type_name, str):
        raise ValueError(f'{field}.type: missing; name a registered class')
    name = type_name if '.' in type_name else \
        f"{cfg.get('_scope_', scope)}.{type_name}"
    found = ROOT_MODELS.get(name)
    if found is None:
        raise ValueError(f'{field}.type: {type_name!r} is not registered in '
                         f'scope {name.split(".")[0]!r}')
    return found


def check_teacher_ckpt(teacher_ckpt: Optional[str]) -> None:
    """The teacher's weights must exist: a random teacher teaches noise."""
    if not isinstance(teacher_ckpt, str) or not teacher_ckpt:
        raise ValueError(
            'model.teacher_ckpt: not set; give the checkpoint of the '
            'classification teacher (train one with a configs/dicod/'
            'teacher_*.py config on crops written by '
            'tools/misc/crop_objects.py)')
    if '://' not in teacher_ckpt and not osp.isfile(teacher_ckpt):
        raise FileNotFoundError(
            f'model.teacher_ckpt: no file {teacher_ckpt!r}; train the '
            'teacher first (a configs/dicod/teacher_*.py config on crops '
            'written by tools/misc/crop_objects.py) or fix the path')


def student_num_classes(student: dict) -> Tuple[int, str]:
    """``(num_classes, field)`` of a one- or two-stage student config."""
    if 'roi_head' in student:
        head, field = (student['roi_head'].get('bbox_head', {}),
                       'model.student.roi_head.bbox_head.num_classes')
    else:
        head, field = (student.get('bbox_head', {}),
                       'model.student.bbox_head.num_classes')
    num_classes = head.get('num_classes', None) if isinstance(head,
                                                              dict) else None
    if num_classes is None:
        raise ValueError(f'{field}: not set; DICOD compares it with the '
                         'teacher\'s number of classes')
    return int(num_classes), field


def check_num_classes(student: dict, teacher: dict) -> None:
    """Teacher and detector must classify the same objects."""
    num_classes, field = student_num_classes(student)
    teacher_classes = num_teacher_classes(teacher)
    if teacher_classes is None:
        raise ValueError('model.teacher.head.num_classes: not set; the '
                         f'teacher must have {num_classes} classes like '
                         f'{field}')
    if int(teacher_classes) != num_classes:
        raise ValueError(
            f'model.teacher.head.num_classes={teacher_classes} differs from '
            f'{field}={num_classes}: the teacher must be trained on the '
            'detector\'s object classes, in the detector\'s label order')


def _normalisation(preprocessor: Optional[dict],
                   rgb_keys: Sequence[str]) -> tuple:
    """``(mean, std, to_rgb)`` of a data preprocessor config."""
    preprocessor = preprocessor or {}
    mean = preprocessor.get('mean', None)
    std = preprocessor.get('std', None)
    to_rgb = any(bool(preprocessor.get(key, False)) for key in rgb_keys)
    return mean, std, to_rgb


def check_normalisation(student: dict, teacher: dict) -> None:
    """The teacher sees crops of the student's normalised input, so both
    must normalise alike (the paper crops the augmented, normalised
    detector input)."""
    s_mean, s_std, s_rgb = _normalisation(
        student.get('data_preprocessor', None), ('bgr_to_rgb', 'rgb_to_bgr'))
    t_mean, t_std, t_rgb = _normalisation(
        teacher.get('data_preprocessor', None),
        ('to_rgb', 'bgr_to_rgb', 'rgb_to_bgr'))

    def same(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return np.allclose(np.asarray(a, float), np.asarray(b, float))

    if not (same(s_mean, t_mean) and same(s_std, t_std) and s_rgb == t_rgb):
        raise ValueError(
            'input normalisation differs between the detector and the '
            f'teacher: model.student.data_preprocessor has mean={s_mean}, '
            f'std={s_std}, bgr_to_rgb={s_rgb}; model.teacher.'
            f'data_preprocessor (the teacher config\'s data_preprocessor) '
            f'has mean={t_mean}, std={t_std}, to_rgb={t_rgb}. The teacher '
            'classifies crops of the detector\'s normalised input: train it '
            'with the detector\'s mean, std and channel order')


def check_student_head(student: dict) -> None:
    """The student must expose positive assignments DICOD can read."""
    scope = student.get('_scope_', 'mmdet')
    if 'roi_head' in student:
        field = 'model.student.roi_head'
        head_cfg = student['roi_head']
        roi_head = True
    elif 'bbox_head' in student:
        field = 'model.student.bbox_head'
        head_cfg = student['bbox_head']
        roi_head = False
    else:
        raise ValueError('model.student: neither a bbox_head (one-stage) '
                         'nor a roi_head (two-stage); DICOD needs a head '
                         'with positive anchor or proposal assignment')
    reason = unsupported_head_reason(
        registered_class(head_cfg, scope, field), roi_head=roi_head)
    if reason is not None:
        raise ValueError(f'{field}: {reason}')
