# Ablation of gradinversion_resnet18-w32_b8-600it_shapes-64px.py: no group
# consistency term (the seeds are optimised independently; the result is
# still their registered mean).
_base_ = ['./gradinversion_resnet18-w32_b8-600it_shapes-64px.py']
test_cfg = dict(attack=dict(group_weight=0.0))
