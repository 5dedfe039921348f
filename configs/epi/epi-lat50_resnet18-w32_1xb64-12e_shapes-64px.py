# EPI with a latency target on the Shapes demo: the dominant sub-network is
# HALP's latency knapsack solution at 50 % of the dense latency predicted by
# the CPU latency table (build it first, see configs/halp/README.md):
#
#   python tools/pruning/build_latency_lut.py THIS_CONFIG --batch 32 \
#       --out work_dirs/halp/luts/resnet18-w32_shapes-64px_cpu_b32.json
_base_ = ['./epi-50_resnet18-w32_1xb64-12e_shapes-64px.py']

custom_hooks = [
    dict(
        _base_.epi_hook,
        pruned_ratio=None,
        latency_ratio=0.5,
        lut='work_dirs/halp/luts/resnet18-w32_shapes-64px_cpu_b32.json',
        latency_batch=32,
        channel_group_size=4)
]
