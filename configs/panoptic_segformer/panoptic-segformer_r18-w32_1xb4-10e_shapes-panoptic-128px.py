# Panoptic SegFormer scaled to the Shapes suite and a 2-core CPU: ResNet-18
# at half width from scratch (no pretrained weights), 128 embedding dims,
# 3 + 3 deformable layers, 20 thing queries (scenes hold at most 4 objects),
# 2-layer thing and 3-layer stuff mask decoders. Everything else (query
# filter, losses and their weights, mask-wise merging) is the COCO recipe.
_base_ = [
    '../_base_/models/panoptic-segformer_r50.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/datasets/shapes_panoptic.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

num_things_classes = 8
num_stuff_classes = 4
embed_dims = 128
model = dict(
    num_queries=20,
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,  # trained from scratch: BN statistics must update
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256], out_channels=embed_dims,
              norm_cfg=dict(type='GN', num_groups=16)),
    encoder=dict(
        num_layers=3,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=512))),
    decoder=dict(
        num_layers=3,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims),
            cross_attn_cfg=dict(embed_dims=embed_dims),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=512))),
    positional_encoding=dict(num_feats=embed_dims // 2),
    bbox_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        embed_dims=embed_dims,
        thing_decoder_layers=2,
        stuff_decoder_layers=3,
        mask_ffn_dims=512),
    test_cfg=dict(max_per_img=20))

max_epochs = 10
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min_ratio=0.01, convert_to_iter_based=True),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'sampling_offsets': dict(lr_mult=0.1),
            'reference_points': dict(lr_mult=0.1)
        }))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', interval=2, max_keep_ckpts=1),
    visualization=dict(type='DetVisualizationHook', draw=False))
visualizer = dict(type='mmext.PanopticVisualizer', name='visualizer',
                  vis_backends=[dict(type='LocalVisBackend')])
auto_scale_lr = dict(enable=False, base_batch_size=4)
randomness = dict(seed=0)
