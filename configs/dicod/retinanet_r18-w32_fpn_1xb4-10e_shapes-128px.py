# Baseline of DICOD's one-stage Shapes pair: stock mmdet RetinaNet with the
# smoke detector's backbone (ResNet-18 at half width, from scratch) and
# schedule (AdamW 2e-3, cosine, batch 4, 10 epochs) on the Shapes suite.
# FPN levels at strides 8-64 with 64 channels, as the smoke Faster R-CNN;
# two stacked convs per head branch instead of four (an assumption for a
# 2-core CPU budget).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_det_adamw_10e.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must update
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64,
              start_level=1, add_extra_convs='on_input', num_outs=4),
    bbox_head=dict(
        num_classes=8,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        anchor_generator=dict(strides=[8, 16, 32, 64])))

max_epochs = 10
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs,
                    max_keep_ckpts=1))
train_dataloader = dict(batch_size=4)
