# Panoptic SegFormer (Li et al., CVPR 2022, arXiv 2109.03814), ResNet-101,
# 24 epochs on COCO panoptic (official
# configs/panformer/panformer_r101_24e_coco_panoptic.py): the R-50 recipe
# with torchvision's ResNet-101 weights. Reported: 50.6 PQ on val2017.
_base_ = './panoptic-segformer_r50_8xb1-24e_coco-panoptic.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
