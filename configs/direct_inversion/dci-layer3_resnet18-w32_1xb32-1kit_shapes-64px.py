# Zero-shot direct inversion of the Shapes classifier split after layer3;
# everything else as dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py.
_base_ = ['./dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py']
model = dict(split='layer3')
