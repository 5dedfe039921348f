# SegFormer's schedule (arXiv:2105.15203, Sec. 4.1; the authors' configs):
# AdamW lr 6e-5, weight decay 0.01, 10x learning rate on the decode head, no
# weight decay on norms; 1500-iteration linear warm-up, then poly (power 1.0)
# decay to 0 at 160k iterations.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            # mmengine applies the longest matching key: every LayerNorm
            # of mmext.MiT is named `...norm...`, and the head's BN is
            # `decode_head.fuse_norm` (10x lr and no decay).
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.),
            'head.fuse_norm': dict(lr_mult=10., decay_mult=0.),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000,
         by_epoch=False),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
