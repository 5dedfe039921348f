# Smoke config: stock mmdet Faster R-CNN with a ResNet-18 FPN, trained from
# scratch (no pretrained weights) on the Shapes suite's COCO files. The
# ResNet-18 is at half width (base_channels=32), as in the classification
# smoke config: the full-width model reached only bbox AP50 0.39 in the 6
# epochs that fit in 10 minutes on a 2-core CPU (docs/benchmarks.md).
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
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
    # Objects are 32-64 px on 128 px images: FPN levels at strides 8..64
    # (start_level=1 skips the costly stride-4 level) with 24..192 px anchors.
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64,
              start_level=1, num_outs=4),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[3], strides=[8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, featmap_strides=[8, 16, 32]),
        bbox_head=dict(in_channels=64, fc_out_channels=256,
                       num_classes=8)),
    # At most 4 objects per image: far fewer samples than COCO's suffice.
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

max_epochs = 10
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs,
                    max_keep_ckpts=1))
# Batch 4: twice the optimizer steps of batch 8 in the same time, which is
# what reaches AP50 0.6 within 10 minutes (docs/benchmarks.md).
train_dataloader = dict(batch_size=4)
