# Active learning for detection (Elezi et al., "Not All Labels Are Equal",
# CVPR 2022, arXiv 2106.11921) on the Shapes suite: the full method
# (flip-consistency training every cycle, the paper's product of box entropy
# and flip inconsistency, pseudo-labels), scaled down for a 2-core CPU.
#
# Detector: an SSD head (softmax, the paper's detector family) on the smoke
# configs' ResNet-18 at half width, from scratch, 128 px images; levels at
# strides 8, 16 and 32 with 24-128 px priors (the objects are 32-64 px).
# Pool: the 1000 Shapes training scenes; 100 random ones labelled first,
# 50 more per cycle, 5 cycles after the initial one (350 at the end).
# Every cycle: 500 iterations of 4 labelled + 4 unlabelled images, new
# weights (as the paper), validation on the 200 validation scenes.
#
#   python tools/misc/make_shapes.py --preset demo --out data/shapes
#   python tools/train.py \
#       configs/active_learning/alssl_ssd-r18-w32_1xb8-6x500it_shapes-128px.py
_base_ = [
    'mmdet::_base_/default_runtime.py',
    '../_base_/datasets/shapes_detection.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

iters_per_cycle = 500
detector = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=32,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must update
        init_cfg=None),
    bbox_head=dict(
        type='SSDHead',
        num_classes=8,
        in_channels=(64, 128, 256),
        anchor_generator=dict(
            type='SSDAnchorGenerator',
            scale_major=False,
            # Centred at stride / 2: the priors of a 128 px image are
            # exactly mirror-symmetric, as flip consistency needs.
            strides=[8, 16, 32],
            min_sizes=[24, 48, 80],
            max_sizes=[48, 80, 128],
            ratios=[[2], [2, 3], [2]]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.1, 0.1, 0.2, 0.2])),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.0,
            ignore_iof_thr=-1,
            gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'),
        smoothl1_beta=1.0,
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        nms=dict(type='nms', iou_threshold=0.45),
        min_bbox_size=0,
        score_thr=0.02,
        max_per_img=100))
model = dict(
    type='mmext.FlipConsistencyDetector',
    detector=detector,
    consistency_weight=1.0,
    # The reference's 120k-iteration ramp (up to 32k, down from 100k),
    # scaled to one cycle.
    ramp=dict(
        ramp_up=iters_per_cycle * 32 // 120,
        ramp_down_start=iters_per_cycle * 100 // 120,
        total=iters_per_cycle))

# The pool: every training scene, none filtered out.
train_dataloader = dict(
    batch_size=8,  # 4 labelled + 4 unlabelled
    num_workers=2,
    persistent_workers=False,
    batch_sampler=None,
    dataset=dict(filter_cfg=dict(filter_empty_gt=False)))
score_dataloader = dict(
    batch_size=16,
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        metainfo={{_base_.metainfo}},
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='img_dir/train/'),
        filter_cfg=dict(filter_empty_gt=False),
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
train_cfg = dict(
    type='mmext.ActiveLearningLoop',
    num_cycles=5,
    initial_labeled=100,
    budget=50,
    iters_per_cycle=iters_per_cycle,
    score_dataloader=score_dataloader,
    acquisition=dict(rule='product', score_thr=0.5),
    # The paper's VOC threshold.
    pseudo_label=dict(score_thr=0.99),
    reinit_each_cycle=True)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
# Restarted every cycle: warm-up, then cosine to 1 % (iterations of a
# cycle).
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
         end=iters_per_cycle, eta_min_ratio=0.01),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=iters_per_cycle, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
