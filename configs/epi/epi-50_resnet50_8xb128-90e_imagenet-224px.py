# EPI, magnitude criterion: ResNet-50 trained from scratch on ImageNet, the
# dominant sub-network that removes 50 % of the channels tracked every
# epoch, pruned (physically) when EPI fires, the remaining epochs trained on
# the slim network (Shen, Molchanov, Yin, Alvarez, "When to Prune? A Policy
# towards Early Structural Pruning", CVPR 2022, arXiv 2110.12007).
#
# UNVERIFIED (configs/epi/README.md lists what is and is not from the
# paper): the paper's per-model tables were not available to mmext, so the
# pruned ratio (0.5), tau for ResNet-50 (0.983 magnitude / 0.944 Taylor, as
# a third-party reimplementation quotes them), window and patience (5) and
# the fallback epoch (30, an mmext choice) are not confirmed from the
# paper. The training recipe is the NVIDIA ResNet-50 v1.5 recipe that the
# same group's HALP uses (configs/_base_/schedules/halp_imagenet_90e.py).
# mmpretrain's stock ResNet-50, ImageNet data (RandomResizedCrop 224) and
# runtime with the recipe's schedule, label smoothing and batch.
_base_ = ['../_base_/recipes/nvidia-rn50_8xb128-90e_in1k.py']

epi_hook = dict(
    type='mmext.EPIHook',
    input_shape=(3, 224, 224),
    # "[Pruned Ratio] denotes the percentage of neurons removed."
    pruned_ratio=0.5,
    criterion='magnitude',
    window=5,
    patience=5,
    tau=0.983,
    # Once per epoch, as in the paper.
    by_epoch=True,
    interval=1,
    latest_epoch=30,
    # The stem stays whole, as in HALP's ResNet-50 recipe.
    ignored_layers=('backbone.conv1', ))
custom_hooks = [epi_hook]

default_hooks = dict(logger=dict(interval=100))
env_cfg = dict(cudnn_benchmark=True)
