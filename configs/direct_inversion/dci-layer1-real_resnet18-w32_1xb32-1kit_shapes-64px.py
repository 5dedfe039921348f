# The real-data upper bound split after layer1; everything else as
# dci-layer2-real_resnet18-w32_1xb32-1kit_shapes-64px.py.
_base_ = ['./dci-layer2-real_resnet18-w32_1xb32-1kit_shapes-64px.py']
model = dict(split='layer1')
