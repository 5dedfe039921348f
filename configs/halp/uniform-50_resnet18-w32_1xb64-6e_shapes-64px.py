# Baseline for HALP on Shapes: uniform width pruning. Same schedule and
# latency table as halp-50_*; every group keeps the same fraction of its
# width (its most salient channels), the largest that meets the target.
_base_ = './halp-50_resnet18-w32_1xb64-6e_shapes-64px.py'

halp_hook = dict(_base_.halp_hook, allocation='uniform')
custom_hooks = [halp_hook]
