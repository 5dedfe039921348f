# HALP-30%: ResNet-50 pruned to 30% of the dense latency; everything else as
# in HALP-55% (same recipe, same latency table). Reported (NVlabs/HALP
# README): 74.41 top-1, 91.85 top-5, 1.113 GFLOPs, 2610 FPS.
_base_ = './halp-55_resnet50_8xb128-90e_imagenet-224px.py'

halp_hook = dict(_base_.halp_hook, target_ratio=0.30)
custom_hooks = [halp_hook]
