# Baseline for HALP on Shapes: global magnitude pruning. Same schedule,
# latency table and knapsack as halp-50_*, but channels are ranked by the
# L1 norm of their weights instead of HALP's BN-Taylor saliency.
_base_ = './halp-50_resnet18-w32_1xb64-6e_shapes-64px.py'

halp_hook = dict(_base_.halp_hook, importance='magnitude')
custom_hooks = [halp_hook]
