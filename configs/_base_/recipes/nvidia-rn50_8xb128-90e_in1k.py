# The ImageNet training recipe HALP's reference code uses (NVlabs/HALP
# configs/exp_configs/rn50_imagenet_prune.yaml, NVIDIA's ResNet-50 v1.5
# recipe in NVIDIA/DeepLearningExamples), on mmpretrain's stock bases: its
# ResNet-50 (v1.5, stride on the 3x3 conv), ImageNet data with its training
# pipeline (RandomResizedCrop 224, horizontal flip) and evaluation pipeline
# (short side 256, centre crop 224), and its runtime
# (default_scope='mmpretrain'). The schedule, label smoothing and batch of
# the recipe go on top. HALP and EPI's ImageNet configs inherit this file.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
    '../schedules/halp_imagenet_90e.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# Label smoothing 0.1 (rn50_imagenet_prune.yaml).
model = dict(
    head=dict(
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))

# 128 images per GPU (8 GPUs: the reference's global batch of 1024).
train_dataloader = dict(batch_size=128, num_workers=8)
val_dataloader = dict(batch_size=128, num_workers=8)
test_dataloader = val_dataloader
