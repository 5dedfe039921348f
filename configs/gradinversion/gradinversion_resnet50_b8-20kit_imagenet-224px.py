# GradInversion (Yin et al., "See through Gradients: Image Batch Recovery via
# GradInversion", CVPR 2021, arXiv 2104.07586): the paper's setting. A
# batch of 8 ImageNet training images (224x224, distinct labels) recovered
# from the averaged gradients of an ImageNet-trained ResNet-50 with the
# paper's weights (configs/_base_/inversion/gradinversion_paper.py).
#
# A GPU run: every iteration differentiates ResNet-50 twice for each of the
# 8 seeds, 20k times (mmext has not run it; a test runs one iteration).
#   python tools/invert.py \
#       configs/gradinversion/gradinversion_resnet50_b8-20kit_imagenet-224px.py
# The attacked model is mmpretrain's stock ImageNet ResNet-50 (76.55 top-1),
# its weights from mmpretrain's model zoo (load_from; --checkpoint replaces
# them).
_base_ = [
    'mmpretrain::resnet/resnet50_8xb32_in1k.py',
    '../_base_/inversion/gradinversion_paper.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

load_from = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
             'resnet50_8xb32_in1k_20210831-ea4938fc.pth')

train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None

# The attacked client's training images, resized and centre-cropped.
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root='data/imagenet',
        split='train',
        pipeline={{_base_.test_pipeline}}))
test_cfg = _base_.gradinversion_loop
test_evaluator = _base_.gradinversion_evaluator
