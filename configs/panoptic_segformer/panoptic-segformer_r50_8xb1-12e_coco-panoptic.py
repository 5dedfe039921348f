# Panoptic SegFormer (Li et al., CVPR 2022, arXiv 2109.03814), ResNet-50,
# 12 epochs (1x) on COCO panoptic: the 24-epoch recipe with lr x0.1 after
# epoch 8 (official configs/panformer/panformer_r50_12e_coco_panoptic.py).
# Reported: 48.0 PQ on val2017.
_base_ = './panoptic-segformer_r50_8xb1-24e_coco-panoptic.py'

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[8],
        gamma=0.1)
]
