# SegFormer (arXiv:2105.15203) with the MiT-B0 encoder: mmseg's
# EncoderDecoder around mmext.MiT and mmext.SegFormerHead. Variant configs
# change `arch` and the head's `in_channels` / `channels`.
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
# SyncBN as in the paper; in a single non-distributed process (one GPU, or
# a CPU) the head falls back to BN and logs it.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='mmext.MiT', arch='b0', out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        type='mmext.SegFormerHead',
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=256,  # the paper's C: 256 for B0/B1, 768 for B2-B5
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
