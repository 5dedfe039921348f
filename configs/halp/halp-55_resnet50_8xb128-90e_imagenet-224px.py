# HALP-55%: ResNet-50 on ImageNet pruned to 55% of its dense latency
# (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
# NeurIPS 2022, arXiv 2110.10811), with the reference recipe of NVlabs/HALP
# (configs/exp_configs/rn50_imagenet_prune.yaml): start from a trained dense
# model, prune during the first ~1200 iterations, fine-tune to 90 epochs.
# Reported (NVlabs/HALP README):
# 76.47 top-1, 93.11 top-5, 1.957 GFLOPs, 1674 FPS (batch 256); the abstract
# gives 1.60x the dense throughput at +0.3 top-1.
# The 80% and 30% variants and ResNet-101 inherit this file.
# mmpretrain's stock ResNet-50, ImageNet data (RandomResizedCrop 224) and
# runtime with the recipe's schedule, label smoothing and batch.
_base_ = ['../_base_/recipes/nvidia-rn50_8xb128-90e_in1k.py']

# HALP starts from a trained dense network (the reference's --pretrained
# resnet50_full.pth): mmpretrain's ImageNet ResNet-50 (76.55 top-1, close
# to the paper's dense baseline).
load_from = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
             'resnet50_8xb32_in1k_20210831-ea4938fc.pth')

halp_hook = dict(
    type='mmext.HALPHook',
    # Final latency = 55% of the dense network's ("HALP-55%").
    target_ratio=0.55,
    # The latency table of this network on the deployment GPU, measured at
    # the batch the paper reports throughput at (256, like the reference's
    # TITAN V LUT rn50_titanv_cudnn_batch256 and its profile.py). Build it
    # on that GPU (replace <device>, e.g. v100 or a100), then train:
    #   python tools/pruning/build_latency_lut.py \
    #       configs/halp/halp-55_resnet50_8xb128-90e_imagenet-224px.py \
    #       --batch 256 --device cuda --out \
    #       work_dirs/halp/luts/resnet50_imagenet-224px_<device>_b256.json
    # The 80%/55%/30% configs share one table (same network and input).
    lut='work_dirs/halp/luts/resnet50_imagenet-224px_<device>_b256.json',
    latency_batch=256,
    input_shape=(3, 224, 224),
    # Reference schedule (rn50_imagenet_prune.yaml: prune_start_iter 0,
    # prune_interval 40, prune_steps 30): from iteration 0, one pruning
    # step every 40 iterations (Taylor saliency averaged over those 40), 30
    # steps, so pruning ends at iteration 1200, within the first epoch at
    # batch 1024 (1251 iterations per epoch); the latency target falls
    # geometrically from the dense latency to target_ratio of it.
    start=0,
    interval=40,
    num_steps=30,
    importance='taylor',
    # The reference prunes neurons in blocks (knapsack items) of 2 channels
    # for the stem and 32, 64 or 128 for the other convs, chosen per layer
    # (NVlabs/HALP configs/prune_configs/rn50_prune_groups.json). The
    # hook takes one size for every group: 32, the reference's finest
    # non-stem value (the stem is not pruned here), which divides every
    # ResNet width (64..2048) and gives the knapsack the finest choice the
    # reference allows anywhere.
    channel_group_size=32,
    # The whole classifier (model(x, mode='tensor')); the logits are kept.
    scope=None,
    # The reference gives the stem's group an importance of 10000 so it is
    # never pruned (NVlabs/HALP prune/pruner.py).
    ignored_layers=('backbone.conv1', ),
    allocation='knapsack')
custom_hooks = [halp_hook]

default_hooks = dict(logger=dict(interval=100))
env_cfg = dict(cudnn_benchmark=True)
