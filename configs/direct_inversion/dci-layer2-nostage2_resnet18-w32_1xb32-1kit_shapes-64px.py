# Ablation: dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py
# without stage 2: the per-block inverses trained for all 1000 iterations
# and composed only at test time.
_base_ = ['./dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py']
model = dict(stage1_iters=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=300, eta_min=1e-5, by_epoch=False,
         begin=700, end=1000),
]
