# SegFormer MiT-B0 on Cityscapes at 1024x1024: the paper's recipe (batch
# 8 = 8 GPUs x 1, 160k iterations, sliding-window test). Paper: 76.2 mIoU.
_base_ = [
    '../_base_/models/segformer_mit-b0.py',
    'mmseg::_base_/datasets/cityscapes_1024x1024.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/segformer_160k_adamw.py'
]
crop_size = (1024, 1024)
# ImageNet-1K MiT weights in mmext's layout: convert the authors' or mmseg's
# file with tools/model_converters/segformer2mmext.py (see README.md).
checkpoint = 'pretrain/mit_b0_mmext.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='b0',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[32, 64, 160, 256], channels=256, num_classes=19),
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(768, 768)))
# Test: 1024x2048 (already multiples of 32; kept explicit).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=1, num_workers=4)
val_dataloader = dict(
    batch_size=1, num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
