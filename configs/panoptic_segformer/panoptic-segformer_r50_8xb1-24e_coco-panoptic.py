# Panoptic SegFormer (Li et al., "Panoptic SegFormer: Delving Deeper into
# Panoptic Segmentation with Transformers", CVPR 2022, arXiv 2109.03814),
# ResNet-50, 24 epochs on COCO panoptic: the official recipe
# (configs/panformer/panformer_r50_24e_coco_panoptic.py of the authors'
# repo) in mmdet 3.x terms. Reported: 49.6 PQ on val2017.
#
# 8 GPUs x 1 image; AdamW lr 1.4e-4, weight decay 1e-4; lr x0.1 on the
# backbone, the deformable attention's sampling offsets and the reference
# point layer; gradient clipping at L2 norm 0.1; no warm-up; lr x0.1 after
# epoch 18. The other COCO configs of this folder inherit from this one.
_base_ = [
    '../_base_/models/panoptic-segformer_r50.py',
    '../_base_/datasets/coco_panoptic_panoptic-segformer.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'sampling_offsets': dict(lr_mult=0.1),
            # mmdet 3.x's `reference_points_fc` (the official
            # `reference_points` Linear)
            'reference_points': dict(lr_mult=0.1)
        }))

max_epochs = 24
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[18],
        gamma=0.1)
]

# The official CacheCleaner hook empties the CUDA cache after every
# training epoch.
custom_hooks = [dict(type='EmptyCacheHook', after_epoch=True)]

# NOTE: `auto_scale_lr` is for automatically scaling LR,
# USER SHOULD NOT CHANGE ITS VALUES.
# base_batch_size = (8 GPUs) x (1 sample per GPU)
auto_scale_lr = dict(base_batch_size=8)
# mmdet's visualizer, safe on all-VOID predictions (tools/test.py --show-dir)
visualizer = dict(type='mmext.PanopticVisualizer')
