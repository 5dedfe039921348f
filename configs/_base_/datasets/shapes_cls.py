# Shapes classification crops in ImageNet class-folder layout, written by
#   python tools/misc/make_shapes.py --preset demo --out data/shapes
# as data/shapes/classification/{train,val}/<class>/<k>.png.
dataset_type = 'mmext.ImageFolderDataset'
data_root = 'data/shapes/'
# Label order of the generator (mmext/datasets/shapes/classes.py,
# THING_CLASSES); without it the sorted folder names would be used.
metainfo = dict(classes=('circle', 'square', 'triangle', 'pentagon',
                         'hexagon', 'star', 'cross', 'ring'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # The shapes are drawn at random rotations: flips keep the class.
    dict(
        type='RandomFlip',
        prob=[0.25, 0.25],
        direction=['horizontal', 'vertical']),
    dict(type='mmext.PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmext.PackClsInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
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
        data_prefix='classification/val',
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='mmext.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
