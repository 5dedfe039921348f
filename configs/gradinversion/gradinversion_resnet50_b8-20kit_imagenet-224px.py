# GradInversion (Yin et al., "See through Gradients: Image Batch Recovery via
# GradInversion", CVPR 2021, arXiv 2104.07586): the paper's setting. A
# batch of 8 ImageNet training images (224x224, distinct labels) recovered
# from the averaged gradients of an ImageNet-trained ResNet-50 with the
# paper's weights (configs/_base_/inversion/gradinversion_paper.py).
#
# A GPU run: every iteration differentiates ResNet-50 twice for each of the
# 8 seeds, 20k times (mmext has not run it; a test runs one iteration).
#   python tools/invert.py \
#       configs/gradinversion/gradinversion_resnet50_b8-20kit_imagenet-224px.py \
#       --checkpoint checkpoints/resnet50_imagenet.pth
# The checkpoint is an ImageNet ResNet-50 in mmext.ImageClassifier layout:
# torchvision's resnet50 weights with every key prefixed 'backbone.' except
# fc.weight/fc.bias, which become head.fc.weight/head.fc.bias (mmdet's
# ResNet uses torchvision's parameter names).
_base_ = [
    '../_base_/models/cls_resnet18.py',
    '../_base_/datasets/imagenet_bs128.py',
    '../_base_/default_runtime.py',
    '../_base_/inversion/gradinversion_paper.py',
]
default_scope = 'mmext'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(backbone=dict(depth=50), in_channels=2048, num_classes=1000)
load_from = 'checkpoints/resnet50_imagenet.pth'

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
        data_root={{_base_.data_root}},
        data_prefix='train',
        pipeline={{_base_.test_pipeline}}))
test_cfg = _base_.gradinversion_loop
test_evaluator = _base_.gradinversion_evaluator
