# COCO panoptic for Panoptic SegFormer (Li et al., CVPR 2022, arXiv
# 2109.03814): mmdet's `mmdet::_base_/datasets/coco_panoptic.py` with
# - mmext's loading transform and PQ metric (mmdet's need panopticapi, which
#   is not on PyPI); same arguments and outputs as mmdet's;
# - the official training augmentation, Deformable DETR's AutoAugment policy
#   (mmdet 3.x form as in configs/deformable_detr/
#   deformable-detr_r50_16xb2-50e_coco.py): flip, then either a multi-scale
#   resize or resize -> absolute-range crop -> multi-scale resize;
# - 1 image per GPU (8 GPUs x 1 = 8), images without things kept
#   (filter_empty_gt=False), single-scale test at (1333, 800), batch 1.
# No padding to a multiple: the model's DetDataPreprocessor keeps
# pad_size_divisor=1 (the official Pad(size_divisor=1)).
# Ground truth: thing masks in gt_masks, every segment's label in gt_seg_map
# (things 0-79, stuff 80-132, 255 unlabelled). mmdet's Resize, RandomFlip and
# RandomCrop transform gt_bboxes, gt_masks and gt_seg_map together; the crop
# keeps the thing masks whose boxes survive and cuts the map with the image.
dataset_type = 'CocoPanopticDataset'
data_root = 'data/coco/'
backend_args = None

multi_scale = [(480, 1333), (512, 1333), (544, 1333), (576, 1333),
               (608, 1333), (640, 1333), (672, 1333), (704, 1333),
               (736, 1333), (768, 1333), (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='mmext.LoadPanopticAnnotations', backend_args=backend_args),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [
                dict(type='RandomChoiceResize', scales=multi_scale,
                     keep_ratio=True)
            ],
            [
                dict(
                    type='RandomChoiceResize',
                    # every COCO image has an aspect ratio < 7 (as in the
                    # official policy)
                    scales=[(400, 4200), (500, 4200), (600, 4200)],
                    keep_ratio=True),
                dict(
                    type='RandomCrop',
                    crop_type='absolute_range',
                    crop_size=(384, 600),
                    allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=multi_scale,
                     keep_ratio=True)
            ]
        ]),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='mmext.LoadPanopticAnnotations', backend_args=backend_args),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train2017.json',
        data_prefix=dict(
            img='train2017/', seg='annotations/panoptic_train2017/'),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='mmext.CocoPanopticMetric',
    ann_file=data_root + 'annotations/panoptic_val2017.json',
    seg_prefix=data_root + 'annotations/panoptic_val2017/',
    backend_args=backend_args)
test_evaluator = val_evaluator

# test-dev submission (format only, no ground truth):
# test_dataloader = dict(
#     dataset=dict(
#         ann_file='annotations/panoptic_image_info_test-dev2017.json',
#         data_prefix=dict(img='test2017/', _delete_=True)))
# test_evaluator = dict(
#     type='mmext.CocoPanopticMetric',
#     format_only=True,
#     ann_file=data_root + 'annotations/panoptic_image_info_test-dev2017.json',
#     outfile_prefix='./work_dirs/coco_panoptic/test')
