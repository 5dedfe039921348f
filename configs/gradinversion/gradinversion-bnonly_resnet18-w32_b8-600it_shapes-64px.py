# Ablation of gradinversion_resnet18-w32_b8-600it_shapes-64px.py: no
# gradient term. What the BN-statistics prior (with the same TV, l2 and group
# terms, as in DeepInversion) recovers of the batch without its gradients;
# the labels still come from the gradient.
_base_ = ['./gradinversion_resnet18-w32_b8-600it_shapes-64px.py']
test_cfg = dict(attack=dict(grad_weight=0.0))
