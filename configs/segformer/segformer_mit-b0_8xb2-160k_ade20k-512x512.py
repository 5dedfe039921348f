# SegFormer MiT-B0 on ADE20K at 512x512: the paper's recipe (batch 16 =
# 8 GPUs x 2, 160k iterations). Paper: 37.4 mIoU (single scale).
_base_ = [
    '../_base_/models/segformer_mit-b0.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/segformer_160k_adamw.py'
]
crop_size = (512, 512)
# ImageNet-1K MiT weights in mmext's layout: convert the authors' or mmseg's
# file with tools/model_converters/segformer2mmext.py (see README.md).
checkpoint = 'pretrain/mit_b0_mmext.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='b0',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[32, 64, 160, 256], channels=256, num_classes=150))
# Test: short side 512, both sides rounded to multiples of 32 (the
# authors' AlignedResize).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=2, num_workers=2)
val_dataloader = dict(
    batch_size=1, num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
