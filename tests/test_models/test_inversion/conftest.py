"""Fixtures of the direct-inversion tests (mmext.DirectInverter): a tiny
attacked classifier with a checkpoint, a tiny image folder of smooth 32-px
images, and a factory of runner configs that train or test an inverter on
it."""
import copy
import os.path as osp
import uuid
from typing import Callable, Optional

import mmcv
import numpy as np
import pytest
import torch

# Sorted: mmpretrain's CustomDataset numbers scanned folders in sorted order.
CLASSES = ('a', 'b', 'c', 'd')
SIZE = 32

#: mmpretrain's ImageClassifier: a ResNet-18 at 1/8 width (64 channels out).
TINY_TARGET = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=len(CLASSES),
              in_channels=64),
    data_preprocessor=dict(mean=[127.5] * 3, std=[64.0] * 3, to_rgb=True))


def tiny_target_cfg(checkpoint: Optional[str] = None) -> dict:
    """A copy of :data:`TINY_TARGET`, with ``checkpoint`` if given."""
    cfg = copy.deepcopy(TINY_TARGET)
    if checkpoint is not None:
        cfg['checkpoint'] = checkpoint
    return cfg


def smooth_pixels(num: int, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """``[num, 3, size, size]`` in [0.1, 0.9]: sums of a few low-frequency
    waves per channel (smooth, so a small inverse can learn them)."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.linspace(0, 1, size)
    yy, xx = torch.meshgrid(grid, grid, indexing='ij')
    images = torch.zeros(num, 3, size, size)
    for _ in range(3):
        fy, fx, phase = (torch.rand(3, num, 3, 1, 1, generator=generator) *
                         torch.tensor([3.0, 3.0, 6.28]).view(3, 1, 1, 1, 1))
        images += torch.sin(6.28 * (fy * yy + fx * xx) / 2 + phase)
    images = images - images.amin(dim=(2, 3), keepdim=True)
    images = images / images.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    return 0.1 + 0.8 * images


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here on one intra-op thread (see ``one_torch_thread``):
    these models are tiny, and two spinning threads on a busy 2-core
    machine make them many times slower."""


@pytest.fixture(scope='session')
def target_ckpt(tmp_path_factory) -> str:
    """A checkpoint (``{'state_dict': ...}``) of :data:`TINY_TARGET` with
    random weights and non-trivial BatchNorm statistics and affine
    parameters (read-only)."""
    from mmengine.registry import DefaultScope

    from mmext.registry import MODELS
    path = str(tmp_path_factory.mktemp('dci_target') / 'target.pth')
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(TINY_TARGET, _scope_='mmpretrain'))
    model.init_weights()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
            module.num_batches_tracked.fill_(100 + n)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def _write_folder(root: str, per_class: int = 4) -> None:
    """``per_class`` smooth 32-px PNGs per class in ``train/<class>/``."""
    pixels = smooth_pixels(len(CLASSES) * per_class, seed=1)
    images = (pixels.permute(0, 2, 3, 1).numpy() * 255).round().astype(
        np.uint8)
    for i, image in enumerate(images):
        name = CLASSES[i // per_class]
        mmcv.imwrite(image, osp.join(root, 'train', name,
                                     f'{i % per_class:03d}.png'))


@pytest.fixture(scope='session')
def dci_folder(tmp_path_factory) -> str:
    """Root of a four-class folder (``train/<class>/NNN.png``, 4 smooth
    32x32 images each; read-only)."""
    root = str(tmp_path_factory.mktemp('dci_folder'))
    _write_folder(root)
    return root


def _dataset(root: str, **kwargs) -> dict:
    return dict(
        type='CustomDataset',
        data_root=root,
        data_prefix='train',
        metainfo=dict(classes=CLASSES),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')],
        **kwargs)


def _dci_cfg(root: str, work_dir: str, checkpoint: str,
             max_iters: int = 8, stage1_iters: Optional[int] = 4,
             **model) -> dict:
    """Runner arguments of a tiny DirectInverter run on the folder at
    ``root``: split ``layer1`` of :data:`TINY_TARGET` (``checkpoint``),
    batches of 4 (InfiniteSampler), Adam with a warm-up then a cosine decay
    through stage 2, a checkpoint every 2 iterations, and a test set of the
    first 4 images. ``model`` overrides model fields."""
    model_cfg = dict(
        type='mmext.DirectInverter',
        target=tiny_target_cfg(checkpoint),
        split='layer1',
        image_size=(SIZE, SIZE),
        stage1_iters=stage1_iters,
        width=8)
    model_cfg.update(model)
    return dict(
        model=model_cfg,
        work_dir=work_dir,
        experiment_name=f'dci-{uuid.uuid4().hex[:8]}',
        default_scope='mmpretrain',
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=_dataset(root)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(
            type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=False,
                 begin=0, end=2),
            dict(type='CosineAnnealingLR', T_max=max_iters - 2,
                 eta_min=1e-4, by_epoch=False, begin=2, end=max_iters),
        ],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2)),
        log_processor=dict(by_epoch=False),
        test_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=_dataset(root, indices=4)),
        test_cfg=dict(type='TestLoop'),
        test_evaluator=dict(
            type='mmext.ImageReconstructionMetric',
            scores=('psnr', 'ssim')))


@pytest.fixture
def target_cfg(target_ckpt) -> dict:
    """:data:`TINY_TARGET` with the ``target_ckpt`` checkpoint (a new dict
    each test)."""
    return tiny_target_cfg(target_ckpt)


@pytest.fixture(scope='session')
def make_smooth_pixels() -> Callable[..., torch.Tensor]:
    """``make_smooth_pixels(num, size=32, seed=0)``: smooth images
    ``[num, 3, size, size]`` in [0.1, 0.9] (:func:`smooth_pixels`)."""
    return smooth_pixels


@pytest.fixture(scope='session')
def dci_cfg() -> Callable[..., dict]:
    """``dci_cfg(root, work_dir, checkpoint, max_iters=8, stage1_iters=4,
    **model)``: runner arguments of a tiny DirectInverter run (a new dict
    each call)."""
    return _dci_cfg
