# Ablation: dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py
# without the cycle term through the frozen blocks (both stages).
_base_ = ['./dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py']
model = dict(loss_weights=dict(cycle=0.0))
