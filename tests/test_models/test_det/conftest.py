"""Fixtures of the detection tests: DICOD's tiny classification teachers."""
import os.path as osp
from typing import Callable, Sequence

import pytest
import torch

#: The detectors' normalisation (mmdet's ImageNet mean and std, RGB).
DET_MEAN = [123.675, 116.28, 103.53]
DET_STD = [58.395, 57.12, 57.375]


def tiny_teacher_cfg(num_classes: int = 8,
                     std: Sequence[float] = tuple(DET_STD)) -> dict:
    """mmpretrain's ImageClassifier with a ResNet-18 at 1/8 width."""
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=64),
        data_preprocessor=dict(mean=DET_MEAN, std=list(std), to_rgb=True))


@pytest.fixture(scope='session')
def dicod_teacher(tmp_path_factory) -> Callable[..., tuple]:
    """``make(num_classes=8, std=DET_STD) -> (teacher_cfg, ckpt_path)``: a
    randomly initialised tiny teacher saved as a runner checkpoint."""
    root = tmp_path_factory.mktemp('dicod_teachers')

    def make(num_classes: int = 8,
             std: Sequence[float] = tuple(DET_STD)) -> tuple:
        from mmext.models.det.dicod.teacher import teacher_model_cfg
        from mmext.registry import MODELS
        cfg = tiny_teacher_cfg(num_classes, std)
        path = osp.join(str(root), f'teacher_{num_classes}_{std[0]}.pth')
        if not osp.exists(path):
            torch.manual_seed(0)
            model = MODELS.build(teacher_model_cfg(cfg))
            model.init_weights()
            torch.save(dict(state_dict=model.state_dict(), meta=dict()),
                       path)
        return cfg, path

    return make
