# Panoptic SegFormer (Li et al., CVPR 2022, arXiv 2109.03814) with mmext's
# MiT-B5 (SegFormer's encoder, arXiv 2105.15203), 24 epochs on COCO panoptic.
#
# NOT an official configuration and no reported result: the authors'
# repository has no MiT backbone and no MiT config; its transformer-backbone
# configs are PVTv2-B5 and Swin-L. MiT-B5 has the same sizes as the official
# `pvt_v2_b5` (widths 64, 128, 320, 512; depths 3, 6, 40, 3; heads 1, 2, 5,
# 8; spatial reduction 8, 4, 2, 1; MLP ratio 4; drop path 0.1), so the
# parameter count equals the PVTv2-B5 config's; the difference is the
# pretraining (ImageNet-1K SegFormer weights here, ImageNet-22K PVTv2 there).
# Everything else is the PVTv2-B5 / Swin-L recipe: the R-50 optimizer and
# schedule, stages 2-4 into the neck, confidence thresholds 0.3.
_base_ = './panoptic-segformer_r50_8xb1-24e_coco-panoptic.py'

# ImageNet-1K MiT-B5 weights converted to mmext's layout (a bare encoder
# state dict): convert the authors' mit_b5.pth or mmseg's MiT-B5 file with
#   python tools/model_converters/segformer2mmext.py mit_b5.pth \
#       pretrain/mit_b5_mmext.pth --src official   (or --src mmseg)
# A missing file is an error naming backbone.init_cfg.checkpoint.
checkpoint = 'pretrain/mit_b5_mmext.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmext.MiT',
        arch='b5',
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[128, 320, 512]),
    test_cfg=dict(thing_score_thr=0.3, stuff_score_thr=0.3))
