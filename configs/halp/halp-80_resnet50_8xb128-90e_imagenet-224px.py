# HALP-80%: ResNet-50 pruned to 80% of the dense latency; everything else as
# in HALP-55% (same recipe, same latency table). Reported (NVlabs/HALP
# README): 77.44 top-1, 93.74 top-5, 2.998 GFLOPs, 1213 FPS.
_base_ = './halp-55_resnet50_8xb128-90e_imagenet-224px.py'

halp_hook = dict(_base_.halp_hook, target_ratio=0.80)
custom_hooks = [halp_hook]
