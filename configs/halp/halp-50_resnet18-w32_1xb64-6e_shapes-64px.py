# HALP on the Shapes classification demo (docs: configs/halp/README.md).
# Start from the dense classifier that `make demo` trains, prune it to 50 %
# of its measured latency with HALP's latency knapsack over BN-Taylor
# saliency, and fine-tune in the same run.
#
# 1. dense model:  make demo   (or tools/train.py configs/shapes/cls_*.py)
# 2. latency LUT:  python tools/pruning/build_latency_lut.py THIS_CONFIG \
#                      --batch 32 --out work_dirs/halp/luts/resnet18-w32_shapes-64px_cpu_b32.json
# 3. prune:        python tools/train.py THIS_CONFIG
# 4. slim model:   python tools/pruning/export_pruned.py THIS_CONFIG \
#                      work_dirs/<this config>/epoch_6.pth --out <dir> --batch 32
_base_ = ['../shapes/cls_resnet18-w32_1xb64-12e_shapes-64px.py']

load_from = 'work_dirs/demo_cls/epoch_12.pth'
lut = 'work_dirs/halp/luts/resnet18-w32_shapes-64px_cpu_b32.json'

# 75 iterations per epoch (4800 images / 64): 20 steps every 10 iterations
# prune within the first 2.7 epochs (the paper prunes within its first
# epoch, 30 steps x 40 iterations), the rest fine-tunes. Blocks of 4
# channels: 8 to 64 choices per group at this half width.
halp_hook = dict(
    type='mmext.HALPHook',
    target_ratio=0.5,
    lut=lut,
    input_shape=(3, 64, 64),
    start=0,
    interval=10,
    num_steps=20,
    importance='taylor',
    channel_group_size=4,
    latency_batch=32)
custom_hooks = [halp_hook]

max_epochs = 6
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-4,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
