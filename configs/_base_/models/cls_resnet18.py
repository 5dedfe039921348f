# ResNet-18 (mmdet's implementation) as a single-label classifier, trained
# from scratch: norm_eval=False so BatchNorm statistics are learned.
model = dict(
    type='mmext.ImageClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='mmdet.ResNet',
        depth=18,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=None,
    in_channels=512,
    num_classes=8,
    label_smoothing=0.0)
