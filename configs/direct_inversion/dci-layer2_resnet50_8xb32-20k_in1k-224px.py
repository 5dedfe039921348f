# Zero-shot direct inversion (Dong et al., "Deep Neural Networks are
# Surprisingly Reversible: A Baseline for Zero-Shot Inversion", arXiv
# 2107.06304; BMVC 2022) in the paper's setting: an ImageNet ResNet-50 split
# after layer2 (22 layers deep), 224 px, no ImageNet image in training.
#
# A GPU recipe mmext has not run (a test builds it): 8 GPUs x 32 synthetic
# images, 20k iterations (15k stage 1, 5k stage 2). The synthetic set
# (8192 images from the ResNet-50's BatchNorm statistics, 2000 DeepInversion
# steps per batch) is made once by rank 0 and cached. The schedule, the
# synthetic set's size and the inverse modules' width are mmext's
# assumptions (the paper's are not public).
#   bash tools/dist_train.sh \
#       configs/direct_inversion/dci-layer2_resnet50_8xb32-20k_in1k-224px.py 8
#   python tools/test.py \
#       configs/direct_inversion/dci-layer2_resnet50_8xb32-20k_in1k-224px.py \
#       work_dirs/dci-layer2_resnet50_8xb32-20k_in1k-224px/iter_20000.pth
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/default_runtime.py',
]
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# mmpretrain's ImageNet ResNet-50 (76.55 top-1) from its model zoo.
target = dict(
    config='mmpretrain::resnet/resnet50_8xb32_in1k.py',
    checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
image_size = (224, 224)
max_iters = 20000
stage1_iters = 15000

model = dict(
    type='mmext.DirectInverter',
    target=target,
    split='layer2',
    image_size=image_size,
    stage1_iters=stage1_iters,
    # 256 channels inside every inverse module (the blocks' own widths,
    # up to 1024 at layer3, would make the inverter larger than ResNet-50).
    width=256,
    loss_weights=dict(reconstruction=1.0, cycle=1.0, image=1.0))

train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmext.SyntheticInversionDataset',
        target=target,
        source='bn',
        num_images=8192,
        image_size=image_size,
        seed=0,
        synthesis=dict(steps=2000, batch_size=128),
        cache_file='work_dirs/direct_inversion_cache/'
        'bn_resnet50_in1k-224px_8192.pth',
        # As on Shapes (an assumption), the shift scaled to 224 px.
        augment=dict(flip=True, max_shift=21, cutmix_prob=0.5)))

# Scored on ImageNet validation images (resized, centre-cropped to 224).
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='mmext.ImageReconstructionMetric',
    scores=('psnr', 'ssim'))
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', T_max=max_iters - stage1_iters,
         eta_min=1e-5, by_epoch=False, begin=stage1_iters, end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=2000, max_keep_ckpts=2))
custom_hooks = [
    dict(type='mmext.DirectInversionGridHook', num_images=8,
         baseline=dict(iterations=2000))
]
log_processor = dict(by_epoch=False)
# Linear scaling rule reference (tools/train.py --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=256)
