# ImageNet-1k (ILSVRC 2012), 1000 classes, in the usual class-folder layout:
#   data/imagenet/train/n01440764/*.JPEG ... (1,281,167 images)
#   data/imagenet/val/n01440764/*.JPEG ...   (50,000 images, sorted into
#   class folders, e.g. with the common valprep.sh)
# The labels are the indices of the sorted WordNet-id folder names, the
# standard torchvision/mmpretrain order. Files with a list instead of folders
# (mmpretrain's meta/val.txt, "<relative path> <label>" per line) work too:
# add ann_file='meta/val.txt' to the dataset.
# Batch 128 per GPU (the ImageNet recipes are 8 GPUs x 128 = 1024).
dataset_type = 'mmext.ImageFolderDataset'
data_root = 'data/imagenet/'

# The standard ResNet training recipe (the one HALP's training code follows)
# is torchvision's RandomResizedCrop(224) (crop area U[8%, 100%] of the image,
# aspect ratio log-uniform in [3/4, 4/3]) plus a horizontal flip. Neither
# mmcv, mmdet nor mmext has RandomResizedCrop (mmpretrain has, but needs
# torchvision), so this is the nearest composition of existing transforms:
# mmdet's RandomCrop in 'relative_range' mode draws the crop height and
# width independently from U[0.47, 1] of the image's, then the crop is
# resized to 224x224. 0.47 gives the same mean crop area as
# RandomResizedCrop, ((1 + 0.47) / 2)^2 = 0.54, with at most 2.1x aspect
# change (RandomResizedCrop: 1.33x, areas down to 8%).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='mmdet.RandomCrop',
        crop_type='relative_range',
        crop_size=(0.47, 0.47)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmext.PackClsInputs'),
]
# Evaluation: short side to 256 (aspect kept), centre crop 224x224.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmdet.ResizeShortestEdge', scale=256),
    dict(type='CenterCrop', crop_size=224),
    dict(type='mmext.PackClsInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='mmext.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
