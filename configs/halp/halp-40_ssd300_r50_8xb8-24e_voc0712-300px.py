# HALP on SSD300 with a ResNet-50 backbone, PASCAL VOC 07+12 (Shen et al.,
# arXiv 2110.10811): the paper reports 1.94x the dense throughput at -0.56
# mAP (abstract). Its detector is NVIDIA's SSD300 v1.1
# (DeepLearningExamples): ResNet-50 cut after conv4_x (layer3) with that
# stage's stride set to 1, so it outputs 1024 x 38 x 38 at 300 px, then five
# extra blocks (1x1 conv to half width, 3x3 conv, each with BN and ReLU) for
# the 19/10/5/3/1 levels, and SSD's box head. Built here from mmdet parts on
# mmdet's VOC SSD300 config (VGG16 there), whose data pipeline, anchors,
# losses and schedule are kept.
_base_ = 'mmdet::pascal_voc/ssd300_voc0712.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    # Pytorch-style ResNet weights expect ImageNet mean and std (the VGG
    # config's std of 1 is for caffe weights).
    data_preprocessor=dict(std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        # conv1..conv4_x only, conv4_x (layer3) at stride 1 as in NVIDIA's
        # SSD300: 300 -> 150 (conv1) -> 75 (pool) -> 75 -> 38 -> 38.
        num_stages=3,
        strides=(1, 2, 1),
        dilations=(1, 1, 1),
        out_indices=(2, ),
        # Every stage trains, so every stage can be pruned (frozen layers
        # would be kept whole by HALPHook). BN statistics stay frozen
        # (batch 8 per GPU), their affine parameters train: HALP's Taylor
        # saliency is computed from them.
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet50')),
    neck=dict(
        in_channels=(1024, ),
        # NVIDIA's extra blocks: 1024 -> 512 -> 512 -> 256 -> 256 -> 256
        # with 256/256/128/128/128 mid channels (SSDNeck's out // 2),
        # strides 2, 2, 2, 1, 1 (38 -> 19 -> 10 -> 5 -> 3 -> 1).
        out_channels=(1024, 512, 512, 256, 256, 256),
        level_strides=(2, 2, 2, 1, 1),
        level_paddings=(1, 1, 1, 0, 0),
        # No L2Norm: the ResNet features are batch-normalised.
        l2_norm_scale=None,
        norm_cfg=dict(type='BN', requires_grad=True)),
    bbox_head=dict(in_channels=(1024, 512, 512, 256, 256, 256)))

# HALP prunes a trained dense detector: train this config without the
# HALPHook entry and load_from first (the backbone then starts from
# torchvision's ImageNet ResNet-50), and put its last checkpoint here.
load_from = 'checkpoints/ssd300_r50_voc0712-300px_dense.pth'

halp_hook = dict(
    type='mmext.HALPHook',
    # Target. 1.94x throughput is 1 / 1.94 = 0.515 of the dense time, but
    # the latency target is only over what HALP prunes:
    # - the scope is the backbone and neck; the box head (12 3x3 convs on
    #   the six levels) keeps its width and is 10% of the dense detector's
    #   conv MACs at 300 px (1.66 of 16.2 GMACs; backbone 13.5, neck 1.0);
    # - the ResNet-50 results say ~12% of the measured time is outside the
    #   conv latency table and does not shrink (time = 0.12 + 0.92 * target;
    #   see halp-45_resnet101_8xb128-90e_imagenet-224px.py).
    # 0.515 = 0.12 + 0.88 * (0.10 + 0.90 * r) gives r = 0.39: 0.40 here.
    # (Assumes the paper times the network without NMS.)
    target_ratio=0.40,
    # The backbone+neck latency table at the deployment batch (our choice;
    # the abstract gives no SSD batch size). Build it on that GPU
    # (replace <device>):
    #   python tools/pruning/build_latency_lut.py \
    #       configs/halp/halp-40_ssd300_r50_8xb8-24e_voc0712-300px.py \
    #       --batch 32 --device cuda --out \
    #       work_dirs/halp/luts/ssd300_r50_voc0712-300px_<device>_b32.json
    lut='work_dirs/halp/luts/ssd300_r50_voc0712-300px_<device>_b32.json',
    latency_batch=32,
    input_shape=(3, 300, 300),
    # The ImageNet schedule of the reference (NVlabs/HALP
    # configs/exp_configs/rn50_imagenet_prune.yaml): from iteration 0, every
    # 40 iterations, 30 steps (1200 iterations, ~4.6 passes over VOC 07+12 at
    # batch 64); the reference code is ResNet-only and has no SSD schedule.
    start=0,
    interval=40,
    num_steps=30,
    importance='taylor',
    # As for ResNet-50: the reference's finest non-stem group size; every
    # width here (64..1024, mid channels 128/256) is a multiple of 32.
    channel_group_size=32,
    # Backbone and neck; their outputs (the head's inputs: layer3's residual
    # channels and each extra block's last conv) are kept, the rest (the
    # bottlenecks' inner convs, layer1/layer2 residual channels, the extra
    # blocks' 1x1 convs) is pruned.
    scope=('backbone', 'neck'),
    # The stem is protected, as in the reference.
    ignored_layers=('backbone.conv1', ),
    allocation='knapsack')
custom_hooks = [
    dict(type='NumClassCheckHook'),
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW'),
    halp_hook,
]

# Schedule: mmdet's VOC SSD300 recipe, kept (fine-tuning from the dense
# detector): SGD lr 1e-3 at batch 64 = 8 GPUs x 8, 24 epochs over VOC 07+12
# repeated 10x (240 passes), lr x0.1 at epochs 16 and 20, 500-iteration
# warm-up.
