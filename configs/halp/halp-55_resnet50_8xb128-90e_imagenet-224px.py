# HALP-55%: ResNet-50 on ImageNet pruned to 55% of its dense latency
# (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
# NeurIPS 2022, arXiv 2110.10811), with the reference recipe of NVlabs/HALP
# (configs/exp_configs/rn50_imagenet_prune.yaml): start from a trained dense
# model, prune during the first ~1200 iterations, fine-tune to 90 epochs.
# Reported (NVlabs/HALP README):
# 76.47 top-1, 93.11 top-5, 1.957 GFLOPs, 1674 FPS (batch 256); the abstract
# gives 1.60x the dense throughput at +0.3 top-1.
# The 80% and 30% variants and ResNet-101 inherit this file.
_base_ = [
    '../_base_/models/cls_resnet18.py',
    '../_base_/datasets/imagenet_bs128.py',
    '../_base_/schedules/halp_imagenet_90e.py',
    '../_base_/default_runtime.py',
]
default_scope = 'mmext'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# ResNet-50 v1.5 (stride on the 3x3 conv, mmdet's style='pytorch'), the
# network HALP prunes; 25.56M parameters with the 1000-way classifier.
model = dict(
    backbone=dict(depth=50),
    in_channels=2048,
    num_classes=1000,
    # The reference's label smoothing (rn50_imagenet_prune.yaml).
    label_smoothing=0.1)

# HALP starts from a trained dense network (the reference's --pretrained
# resnet50_full.pth). Put an mmext ImageClassifier checkpoint here: for
# torchvision's ResNet-50 weights (IMAGENET1K_V1, 76.13 top-1, close to the
# paper's dense baseline) prefix the keys, 'fc.*' -> 'head.fc.*' and every
# other 'k' -> 'backbone.k' (mmdet's ResNet uses torchvision's layer names):
#   sd = torch.load('resnet50-0676ba61.pth')
#   torch.save({'state_dict': {('head.' if k.startswith('fc.') else
#       'backbone.') + k: v for k, v in sd.items()}}, <this path>)
load_from = 'checkpoints/resnet50_imagenet-224px_dense.pth'

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
