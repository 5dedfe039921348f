# The active-learning method of Elezi et al. (CVPR 2022, arXiv 2106.11921)
# on a two-stage detector: mmdet's stock Faster R-CNN R-50-FPN (ImageNet
# start) on the paper's VOC setting (VOC07+12 pool, 2,011 initial images,
# 1,000 per cycle, 5 cycles, pseudo-labels at 0.99). The paper describes
# its score with IoU-matched flip pairs after NMS, which is how it is
# computed for a RoI head; its code and tables are SSD300 only.
# Assumptions: the flip consistency acts on the RoI head (the original
# view's proposals, mirrored); each cycle trains 12k iterations at batch
# 16 (about mmdet's 1x VOC schedule), SGD lr 0.01, x0.1 at 9k.
_base_ = ['mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

iters_per_cycle = 12000
model = dict(
    _delete_=True,
    type='mmext.FlipConsistencyDetector',
    detector={{_base_.model}},
    # The reference ramp (up to 32k, down from 100k of 120k), scaled.
    ramp=dict(
        ramp_up=iters_per_cycle * 32 // 120,
        ramp_down_start=iters_per_cycle * 100 // 120,
        total=iters_per_cycle))

voc_parts = [
    dict(
        type='VOCDataset',
        data_root='data/VOCdevkit/',
        ann_file=f'VOC{year}/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root=f'VOC{year}/'),
        filter_cfg=None)  # the pool keeps every image
    for year in (2007, 2012)
]
train_dataloader = dict(
    batch_size=16,  # 8 labelled + 8 unlabelled
    num_workers=4,
    batch_sampler=None,
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['dataset_type'],
        datasets=[
            dict(part, pipeline={{_base_.train_pipeline}})
            for part in voc_parts
        ]))
train_cfg = dict(
    _delete_=True,
    type='mmext.ActiveLearningLoop',
    num_cycles=5,
    initial_labeled=2011,
    budget=1000,
    iters_per_cycle=iters_per_cycle,
    score_dataloader=dict(
        batch_size=8,
        dataset=dict(
            type='ConcatDataset',
            ignore_keys=['dataset_type'],
            datasets=[
                dict(part, test_mode=True,
                     pipeline={{_base_.test_pipeline}})
                for part in voc_parts
            ])),
    acquisition=dict(rule='product', score_thr=0.5, match_iou=0.5),
    pseudo_label=dict(score_thr=0.99),
    reinit_each_cycle=True)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=iters_per_cycle,
         milestones=[9000], gamma=0.1),
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=3000,
                    max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
