# Panoptic SegFormer (Li et al., CVPR 2022, arXiv 2109.03814), PVTv2-B5,
# 24 epochs on COCO panoptic (official
# configs/panformer/panformer_pvtb5_24e_coco_panoptic.py): the R-50 recipe
# (optimizer included: the official config changes only the model) with
# mmdet's PVTv2 at the B5 size of the official `pvt_v2_b5` (widths 64, 128,
# 320, 512; depths 3, 6, 40, 3; heads 1, 2, 5, 8; spatial reduction 8, 4, 2,
# 1; MLP ratio 4 in every stage; drop path 0.1), stages 2-4 into the neck,
# ImageNet-22K weights, and confidence thresholds 0.3 for things and stuff.
# Reported: 55.6 PQ on val2017 (released model; 55.4 in the paper).
_base_ = './panoptic-segformer_r50_8xb1-24e_coco-panoptic.py'

# The authors' ImageNet-22K PVTv2-B5 (named in the official config); mmdet's
# PVT converts its keys on loading (`convert_weights=True`, the default).
pretrained = ('https://github.com/whai362/PVT/releases/download/v2/'
              'pvt_v2_b5_22k.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='PyramidVisionTransformerV2',
        embed_dims=64,
        num_layers=[3, 6, 40, 3],
        num_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1],
        mlp_ratios=(4, 4, 4, 4),
        drop_path_rate=0.1,
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 320, 512]),
    test_cfg=dict(thing_score_thr=0.3, stuff_score_thr=0.3))
