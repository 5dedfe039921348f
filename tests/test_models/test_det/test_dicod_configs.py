"""DICOD's configs: the paper's COCO settings on stock mmdet students, and
teachers whose classes and normalisation match their students (the models
are built by tests/test_configs.py)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmext.models.det.dicod.checks import (check_normalisation,
                                           check_num_classes,
                                           check_student_head)
from mmext.models.det.dicod import KDClsConfig, KDLocConfig
from mmext.models.det.dicod.teacher import teacher_model_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
DISTILL = sorted(glob.glob(osp.join(REPO, 'configs', 'dicod', 'dicod*.py')))
COCO = {
    # config: the class of the head DICOD reads the positives from
    'dicod_ssd300_8xb8-24e_coco.py': 'SSDHead',
    'dicod_ssd512_8xb8-24e_coco.py': 'SSDHead',
    'dicod_faster-rcnn_r50_fpn_2x_coco.py': 'StandardRoIHead',
    'dicod_retinanet_r50_fpn_2x_coco.py': 'RetinaHead',
    'dicod_faster-rcnn_mobilenetv2_fpn_1x_coco.py': 'StandardRoIHead',
}


def test_the_papers_coco_settings_are_all_there():
    names = {osp.basename(p) for p in DISTILL}
    assert set(COCO) <= names


@pytest.mark.parametrize('path', DISTILL, ids=[osp.basename(p)
                                               for p in DISTILL])
def test_teacher_agrees_with_its_student(path):
    model = Config.fromfile(path).model
    assert model.type == 'mmext.DICODDistiller'
    teacher = teacher_model_cfg(model.teacher)
    student = dict(model.student)
    check_student_head(student)
    check_num_classes(student, teacher)
    check_normalisation(student, teacher)


@pytest.mark.parametrize('name', sorted(COCO))
def test_coco_config_follows_the_paper(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dicod', name))
    model = cfg.model
    head = model.student.get('roi_head', model.student.get('bbox_head'))
    assert head.type == COCO[name]
    # Hyper-parameters of Sec. 4.1 and the released SSD300 recipe.
    assert KDClsConfig(**model.get('kd_cls', {})) == KDClsConfig(
        T=2.0, loss_weight=0.4, crop_size=112)
    assert KDLocConfig(**model.get('kd_loc', {})) == KDLocConfig(
        loss_weight=0.15, layers=(-1, 0), pool_sizes=(4, 8), crop_size=112)
    teacher = teacher_model_cfg(model.teacher)
    assert teacher.backbone.depth == 50 and teacher.head.num_classes == 80
    assert cfg.train_dataloader.dataset.get(
        'type', cfg.train_dataloader.dataset.get('dataset', {}).get(
            'type')) in ('CocoDataset', 'RepeatDataset')
    # SSDs normalise with std 1, so they get their own teacher.
    ssd = name.startswith('dicod_ssd')
    assert (teacher.data_preprocessor.std == [1, 1, 1]) == ssd


def test_ssd300_keeps_the_released_schedule():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'dicod', 'dicod_ssd300_8xb8-24e_coco.py'))
    assert cfg.train_dataloader.dataset.type == 'RepeatDataset'
    assert cfg.train_dataloader.dataset.times == 5
    assert cfg.train_cfg.max_epochs == 24
    assert cfg.optim_wrapper.optimizer.lr == 2e-3
    assert cfg.train_dataloader.batch_size == 8
