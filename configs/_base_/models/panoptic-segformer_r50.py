# Panoptic SegFormer R-50 (Li et al., CVPR 2022, arXiv 2109.03814): the
# official base config's model in mmdet 3.x terms. COCO panoptic: 80 things
# (labels 0-79) and 53 stuff classes (labels 80-132).
num_things_classes = 80
num_stuff_classes = 53
embed_dims = 256
model = dict(
    type='mmext.PanopticSegFormer',
    num_queries=300,
    num_feature_levels=4,  # the code's extra 1/64 level (the paper: 3)
    with_box_refine=True,
    as_two_stage=False,
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=1,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='ChannelMapper',
        in_channels=[512, 1024, 2048],
        kernel_size=1,
        out_channels=embed_dims,
        act_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=4),
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_levels=4,
                               batch_first=True),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=1024,
                         ffn_drop=0.1))),
    decoder=dict(
        num_layers=6,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_heads=8,
                               dropout=0.1, batch_first=True),
            cross_attn_cfg=dict(embed_dims=embed_dims, num_levels=4,
                                batch_first=True),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=1024,
                         ffn_drop=0.1)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=embed_dims // 2, normalize=True,
                             offset=-0.5),
    bbox_head=dict(
        type='mmext.PanopticSegFormerHead',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        embed_dims=embed_dims,
        thing_decoder_layers=4,
        stuff_decoder_layers=6,
        mask_num_heads=8,
        mask_ffn_dims=1024,
        num_mask_levels=3,
        max_positives_per_gt=3,
        sync_cls_avg_factor=True,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                      alpha=0.25, loss_weight=2.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0),
        loss_mask=dict(type='DiceLoss', use_sigmoid=False, activate=False,
                       naive_dice=False, eps=1e-6, loss_weight=2.0),
        # 2.0 doubled in the official code
        loss_stuff_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                            alpha=0.25, loss_weight=4.0),
        balance_thing_stuff=True),
    train_cfg=dict(
        assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='FocalLossCost', weight=2.0),
                dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='IoUCost', iou_mode='giou', weight=2.0)
            ]),
        # one-to-one matching of the filtered queries for the masks; the
        # class weight is the official code's doubled 2.0
        mask_assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='FocalLossCost', weight=4.0),
                dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='IoUCost', iou_mode='giou', weight=2.0),
                dict(type='DiceCost', weight=2.0, pred_act=False,
                     naive_dice=False, eps=1e-3)
            ])),
    test_cfg=dict(
        max_per_img=100,
        thing_score_thr=0.25,
        stuff_score_thr=0.25,
        thing_overlap_thr=0.4,
        stuff_overlap_thr=0.2,
        mask_thr=0.5,
        alpha=1.0,
        beta=2.0))
