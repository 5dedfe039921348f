# DICOD's classification teacher for the SSD students (Guo et al., NeurIPS
# 2021, Sec. 4: a separate ResNet-50 teacher "since SSDs use different data
# augmentation"): as teacher_resnet50_8xb64-30e_coco-objects-112px.py, with
# SSD's normalisation (mean subtraction only, std 1, RGB), which the
# teacher must share with its student, and SSD's photometric distortion.
# The released SSD300 recipe's teacher is a torchvision ResNet-50; the
# schedule is an assumption (the supplementary material is not public).
_base_ = ['./teacher_resnet50_8xb64-30e_coco-objects-112px.py']

data_preprocessor = dict(std=[1, 1, 1])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PhotoMetricDistortion', _scope_='mmdet'),
    dict(type='RandomResizedCrop', scale=112, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
