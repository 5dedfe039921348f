# HALP on the Shapes detection smoke model: prune the backbone and FPN of
# the Faster R-CNN of configs/shapes/ to 70 % of their measured latency
# while fine-tuning for 4 epochs (the heads are not pruned; FPN outputs keep
# their 64 channels). Latencies are those of backbone + neck at batch 1.
#
# 1. dense model:  python tools/train.py configs/shapes/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py
# 2. latency LUT:  python tools/pruning/build_latency_lut.py THIS_CONFIG \
#                      --batch 1 --out work_dirs/halp/luts/faster-rcnn_r18-w32_fpn_shapes-128px_cpu_b1.json
# 3. prune:        python tools/train.py THIS_CONFIG
# 4. slim model:   python tools/pruning/export_pruned.py THIS_CONFIG \
#                      work_dirs/<this config>/epoch_4.pth --out <dir>
_base_ = ['../shapes/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py']

load_from = ('work_dirs/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px/'
             'epoch_10.pth')

# About 250 iterations per epoch at batch 4: 15 steps every 20 iterations
# prune within the first 1.2 epochs.
custom_hooks = [
    dict(
        type='mmext.HALPHook',
        target_ratio=0.7,
        lut='work_dirs/halp/luts/'
        'faster-rcnn_r18-w32_fpn_shapes-128px_cpu_b1.json',
        input_shape=(3, 128, 128),
        scope=('backbone', 'neck'),
        start=0,
        interval=20,
        num_steps=15,
        importance='taylor',
        channel_group_size=4,
        latency_batch=1)
]

max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        eta_min_ratio=0.01,
        convert_to_iter_based=True),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
