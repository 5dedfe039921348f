# HALP's ImageNet fine-tuning recipe (NVlabs/HALP
# configs/exp_configs/rn50_imagenet_prune.yaml, which follows NVIDIA's
# ResNet-50 v1.5 training recipe in NVIDIA/DeepLearningExamples).
# Pruning and fine-tuning are one run: the pruning hook prunes during the
# first ~1200 iterations, the rest of the 90 epochs fine-tunes the result.
# The numbers are for a global batch of 1024 = 8 GPUs x 128.
max_epochs = 90
warmup_epochs = 8

optim_wrapper = dict(
    # The reference trains with apex AMP O1 (dynamic loss scaling). HALP's
    # saliency reads the gradients in an optimizer step pre-hook, after
    # GradScaler has unscaled them.
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='SGD',
        # Base lr 1.024 at batch 1024 (0.256 per 256 images).
        lr=1.024,
        momentum=0.875,
        # 3.0517578125e-05 = 1/32768, the NVIDIA recipe's value.
        weight_decay=3.0517578125e-05,
        nesterov=False),
    # No weight decay on BatchNorm weights and biases (bn_weight_decay
    # False in the reference).
    paramwise_cfg=dict(norm_decay_mult=0.))

# The reference sets the learning rate once per epoch: epoch e < 8 uses
# lr * (e + 1) / 8 (so all pruning happens at 0.128), then
# lr * 0.5 * (1 + cos(pi * (e - 8) / 82)) until epoch 90. Per-epoch
# LinearLR over [0, 8) gives exactly 1/8, 2/8, ..., 8/8 for epochs 0..7
# (mmengine's last value is end_factor at epoch end - 1), and
# CosineAnnealingLR from epoch 8 with T_max 82 is the same cosine.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1. / warmup_epochs,
        end_factor=1.,
        by_epoch=True,
        begin=0,
        end=warmup_epochs),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs),
]

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# lr above is for 8 GPUs x 128 images; `tools/train.py --auto-scale-lr`
# rescales it linearly for another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=1024)
