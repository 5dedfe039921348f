# Zero-shot direct inversion (Dong, Yin, Alvarez, Kautz, Molchanov, "Deep
# Neural Networks are Surprisingly Reversible: A Baseline for Zero-Shot
# Inversion", arXiv 2107.06304; BMVC 2022 as "Privacy Vulnerability of Split
# Computing to Data-Free Model Inversion Attacks") on the Shapes demo.
#
# The device runs the Shapes classifier (ResNet-18 at half width, 64 px) up
# to layer2 and sends the features; the attacker has its weights, no Shapes
# image, and trains one inverse module per block on images synthesised from
# the classifier's BatchNorm statistics: stage 1 per block (reconstruction +
# cycle through the frozen block), stage 2 the composed inverses end to end.
# Train the classifier first, then the inverter, then attack the real
# validation images:
#   python tools/train.py configs/shapes/cls_resnet18-w32_1xb64-12e_shapes-64px.py
#   python tools/train.py configs/direct_inversion/dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py
#   python tools/test.py configs/direct_inversion/dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py \
#       work_dirs/dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px/iter_1000.pth
# tools/test.py reports PSNR and SSIM on the 800 validation crops and writes
# the grid of originals, zero-shot and optimisation-baseline inversions.
# Every value the paper does not publish is mmext's assumption (see
# configs/direct_inversion/README.md).
_base_ = [
    '../_base_/datasets/shapes_cls.py',
    '../_base_/default_runtime.py',
]
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# The attacked classifier: the config it was trained with and its weights.
target = dict(
    config='configs/shapes/cls_resnet18-w32_1xb64-12e_shapes-64px.py',
    checkpoint='work_dirs/cls_resnet18-w32_1xb64-12e_shapes-64px/epoch_12.pth')
image_size = (64, 64)
max_iters = 1000
stage1_iters = 700

model = dict(
    type='mmext.DirectInverter',
    target=target,
    split='layer2',
    image_size=image_size,
    stage1_iters=stage1_iters,
    width=None,
    loss_weights=dict(reconstruction=1.0, cycle=1.0, image=1.0))

# Synthetic training images only: DeepInversion-style images from the
# classifier's BatchNorm statistics, made once and cached (shared by every
# Shapes config of the same target).
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmext.SyntheticInversionDataset',
        target=target,
        source='bn',
        num_images=512,
        image_size=image_size,
        seed=0,
        # 200 DeepInversion steps per batch of 128 (minutes on a 2-core
        # CPU, made once); lr and jitter lowered for 64-px images.
        synthesis=dict(steps=200, batch_size=128, lr=0.1, jitter=4),
        cache_file='work_dirs/direct_inversion_cache/'
        'bn_cls_resnet18-w32_shapes-64px_512.pth',
        # Every draw augmented afresh (an assumption): flips, a shift of
        # up to 6 px, and with probability 1/2 a box pasted from another
        # synthetic image (CutMix without labels).
        augment=dict(flip=True, max_shift=6, cutmix_prob=0.5)))

# The attack is scored on real validation crops (unused in training).
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='mmext.ImageReconstructionMetric',
    scores=('psnr', 'ssim'))
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3))
# Constant learning rate through stage 1 (after a warm-up), cosine decay
# through stage 2.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - stage1_iters,
         eta_min=1e-5, by_epoch=False, begin=stage1_iters, end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=500, max_keep_ckpts=1))
# After tools/test.py: originals, zero-shot and optimisation-baseline
# inversions of the first 8 validation crops.
custom_hooks = [
    dict(type='mmext.DirectInversionGridHook', num_images=8,
         baseline=dict(iterations=1000))
]
log_processor = dict(by_epoch=False)
