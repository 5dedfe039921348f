# The paper's COCO setting (Elezi et al., "Not All Labels Are Equal", CVPR
# 2022, arXiv 2106.11921): SSD300 VGG16, pool = COCO train2014 (82,081
# images), 5,000 random initial images, 1,000 per cycle for 5 cycles,
# pseudo-labels at 0.75, batch 32; the rest as the VOC config. Evaluated on
# val2017 (a subset of val2014, disjoint from train2014; the paper does not
# name its split). Paper (its Table 4): 32.8 after the last cycle, random
# 31.5.
_base_ = ['./alssl_ssd300_vgg16_1xb16-6x120k_voc0712.py']

model = dict(
    detector=dict(
        bbox_head=dict(
            num_classes=80,
            # mmdet's SSD300 COCO priors.
            anchor_generator=dict(basesize_ratio_range=(0.15, 0.9)))))

coco_pool = dict(
    type='CocoDataset',
    data_root='data/coco/',
    ann_file='annotations/instances_train2014.json',
    data_prefix=dict(img='train2014/'),
    filter_cfg=None)  # the pool keeps every image
train_dataloader = dict(
    batch_size=32,  # 16 labelled + 16 unlabelled, as the released code
    dataset=dict(
        _delete_=True, pipeline={{_base_.train_pipeline}}, **coco_pool))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root='data/coco/',
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file='data/coco/annotations/instances_val2017.json',
    metric='bbox',
    format_only=False)
test_evaluator = val_evaluator
train_cfg = dict(
    initial_labeled=5000,
    budget=1000,
    score_dataloader=dict(
        batch_size=32,
        dataset=dict(
            _delete_=True,
            test_mode=True,
            pipeline={{_base_.test_pipeline}},
            **coco_pool)),
    pseudo_label=dict(score_thr=0.75))
auto_scale_lr = dict(enable=False, base_batch_size=32)
