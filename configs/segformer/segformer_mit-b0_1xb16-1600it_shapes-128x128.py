# SegFormer MiT-B0 trained from scratch on the Shapes suite at the scenes'
# own 128x128: the demo that proves the model, data and tools end to end on
# a 2-core CPU within 10 minutes (docs/benchmarks.md, "SegFormer").
# It starts without ImageNet weights, so the recipe departs from the paper's
# fine-tuning schedule: a higher learning rate, no stochastic depth, and
# thing classes (8 shapes, about 18 % of the pixels) weighted 5x in the
# loss so that shape recognition is learned within the budget. At 128 px an
# iteration of 16 images costs a third of one of 8 images upsampled to
# 256 px, and the budget buys 2.5x the optimiser steps: shape recognition,
# not boundary resolution, is what limits the score here.
_base_ = [
    '../_base_/models/segformer_mit-b0.py',
    '../_base_/datasets/shapes_semantic.py',
    'mmseg::_base_/default_runtime.py',
]
crop_size = (128, 128)
max_iters = 1600
# The scenes are 128 px: no resize.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(drop_path_rate=0.0),
    decode_head=dict(
        num_classes=12,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            class_weight=[5.0] * 8 + [1.0] * 4)))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999),
                   weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        'head.fuse_norm': dict(decay_mult=0.)}),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=100, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
