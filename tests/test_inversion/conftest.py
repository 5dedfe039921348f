"""Fixtures shared by the GradInversion tests: a tiny four-class image
folder and a factory of runner configs that attack it."""
import os.path as osp
import uuid
from typing import Callable

import mmcv
import numpy as np
import pytest

# Sorted: mmpretrain's CustomDataset numbers scanned folders in sorted order.
CLASSES = ('a', 'b', 'c', 'd')


def _write_folder(root: str, per_class: int = 5, size: int = 16) -> None:
    """``per_class`` 16-px images per class: a class grey level with a
    random 8x8 patch in the middle."""
    rng = np.random.RandomState(0)
    for c, name in enumerate(CLASSES):
        for k in range(per_class):
            image = np.full((size, size, 3), 40 * c + 20, np.uint8)
            image[4:12, 4:12] = rng.randint(0, 255, (8, 8, 3))
            mmcv.imwrite(image,
                         osp.join(root, 'train', name, f'{k:03d}.png'))


def _gi_cfg(root: str, work_dir: str, **loop) -> dict:
    """Runner arguments of a GradInversion run on the folder at ``root``:
    a ResNet-18 of width 4, batches of 4, 6 iterations with 2 seeds.
    ``loop`` overrides ``test_cfg`` fields (``attack`` is merged)."""
    test_cfg = dict(
        type='mmext.GradInversionLoop',
        batch_size=4,
        num_batches=2,
        pool_size=4,
        checkpoint_interval=3,
        log_interval=3,
        attack=dict(
            iterations=6,
            num_seeds=2,
            warmup=2,
            group_start=2,
            group_every=2,
            grad_distance='cosine',
            grad_weight=1.0,
            bn_weight=1e-3))
    for key, value in loop.items():
        if key == 'attack':
            test_cfg['attack'].update(value)
        else:
            test_cfg[key] = value
    return dict(
        model=dict(
            type='ImageClassifier',
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=4,
                base_channels=4,
                out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=len(CLASSES),
                in_channels=32,
                loss=dict(type='CrossEntropyLoss'))),
        data_preprocessor=dict(
            mean=[127.5] * 3, std=[64.0] * 3, to_rgb=True),
        work_dir=work_dir,
        experiment_name=f'gi-{uuid.uuid4().hex[:8]}',
        default_scope='mmpretrain',
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
        test_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='CustomDataset',
                data_root=root,
                data_prefix='train',
                metainfo=dict(classes=CLASSES),
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='PackInputs')
                ])),
        test_cfg=test_cfg,
        test_evaluator=[
            dict(type='mmext.ImageReconstructionMetric'),
            dict(type='mmext.IdentifiabilityPrecision', space='feature'),
            dict(type='mmext.IdentifiabilityPrecision', space='pixel'),
            dict(type='mmext.LabelRecoveryAccuracy'),
        ])


@pytest.fixture(scope='session')
def gi_folder(tmp_path_factory) -> str:
    """Root of a four-class image folder (``train/<class>/NNN.png``, 5
    images of 16x16 each; read-only)."""
    root = str(tmp_path_factory.mktemp('gi_folder'))
    _write_folder(root)
    return root


@pytest.fixture(scope='session')
def gi_cfg() -> Callable[..., dict]:
    """``gi_cfg(root, work_dir, **loop)``: runner arguments of a tiny
    GradInversion run (a new dict each call)."""
    return _gi_cfg
