# Shapes suite, COCO panoptic format (annotations/panoptic_{split}.json +
# PNGs; 8 things, 4 stuff), for mmdet configs (default_scope mmdet). mmext's
# loading transform and metric need no panopticapi.
# Generate the data with:
#   python tools/misc/make_shapes.py --preset demo --out data/shapes
dataset_type = 'CocoPanopticDataset'
data_root = 'data/shapes/'
shapes_preset = 'demo'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'pentagon', 'hexagon', 'star',
             'cross', 'ring', 'sky', 'grass', 'water', 'wall'),
    thing_classes=('circle', 'square', 'triangle', 'pentagon', 'hexagon',
                   'star', 'cross', 'ring'),
    stuff_classes=('sky', 'grass', 'water', 'wall'),
    palette=[(220, 20, 60), (0, 130, 200), (255, 225, 25), (145, 30, 180),
             (245, 130, 48), (70, 240, 240), (240, 50, 230), (128, 128, 0),
             (135, 206, 235), (34, 139, 34), (0, 80, 160), (150, 75, 60)])
image_size = (128, 128)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='mmext.LoadPanopticAnnotations', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='mmext.LoadPanopticAnnotations', backend_args=backend_args),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'seg_map_path', 'segments_info')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='img_dir/train/',
                         seg='annotations/panoptic_train/'),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='img_dir/val/', seg='annotations/panoptic_val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='mmext.CocoPanopticMetric',
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/',
    backend_args=backend_args)
test_evaluator = val_evaluator
