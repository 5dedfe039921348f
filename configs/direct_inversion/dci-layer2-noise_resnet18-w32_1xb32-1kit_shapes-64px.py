# Ablation: dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py
# trained on random images with natural-image spectra instead of images
# synthesised from the classifier's BatchNorm statistics. Noise images are
# made on the fly and cost nothing to make: 32000 distinct ones, each seen
# once in the 1000 iterations of 32.
_base_ = ['./dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py']
train_dataloader = dict(
    dataset=dict(
        source='noise', num_images=32000, synthesis=None, cache_file=None))
