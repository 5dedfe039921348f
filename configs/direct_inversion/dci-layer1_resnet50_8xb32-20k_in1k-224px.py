# Zero-shot direct inversion of the ImageNet ResNet-50 split after layer1;
# everything else as dci-layer2_resnet50_8xb32-20k_in1k-224px.py.
_base_ = ['./dci-layer2_resnet50_8xb32-20k_in1k-224px.py']
model = dict(split='layer1')
