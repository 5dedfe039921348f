# Shapes classification crops for mmpretrain's CustomDataset, written by
#   python tools/misc/make_shapes.py --preset demo --out data/shapes
# as data/shapes/classification/{train,val}/<class>/<k>.png, with the
# annotation lists classification/meta/{train,val}.txt ("<class>/<k>.png
# <label>" per line). The lists carry the generator's label order
# (mmext/datasets/shapes/classes.py, THING_CLASSES); scanning the folders
# instead would number the classes in sorted name order.
dataset_type = 'CustomDataset'
data_root = 'data/shapes/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'pentagon',
                         'hexagon', 'star', 'cross', 'ring'))

data_preprocessor = dict(
    num_classes=8,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # The PNGs are read as BGR.
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # The shapes are drawn at random rotations: flips keep the class.
    dict(
        type='RandomFlip',
        prob=[0.25, 0.25],
        direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='classification/meta/train.txt',
        data_prefix='classification/train',
        metainfo=metainfo,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='classification/meta/val.txt',
        data_prefix='classification/val',
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
