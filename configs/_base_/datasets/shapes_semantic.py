# Shapes suite, mmseg img_dir/ann_dir layout (12 classes: 8 things, 4 stuff;
# label = class index, 255 = ignore), for mmseg configs (default_scope mmseg).
# Generate the data with:
#   python tools/misc/make_shapes.py --preset demo --out data/shapes
# Scenes are 128 px; `crop_size` is the network's input side. It is
# substituted into the pipelines when this file is read: change it in a
# config that inherits this one (then restate the pipelines), not with
# --cfg-options.
dataset_type = 'BaseSegDataset'
data_root = 'data/shapes/'
shapes_preset = 'demo'
crop_size = (256, 256)
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'pentagon', 'hexagon', 'star',
             'cross', 'ring', 'sky', 'grass', 'water', 'wall'),
    palette=[[220, 20, 60], [0, 130, 200], [255, 225, 25], [145, 30, 180],
             [245, 130, 48], [70, 240, 240], [240, 50, 230], [128, 128, 0],
             [135, 206, 235], [34, 139, 34], [0, 80, 160], [150, 75, 60]])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
