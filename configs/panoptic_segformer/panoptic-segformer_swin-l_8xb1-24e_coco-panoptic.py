# Panoptic SegFormer (Li et al., CVPR 2022, arXiv 2109.03814), Swin-L,
# 24 epochs on COCO panoptic (official
# configs/panformer/panformer_swinl_24e_coco_panoptic.py): the R-50 recipe
# (optimizer included: the official config changes only the model) with
# mmdet's Swin Transformer at the Swin-L size (embedding 192, depths 2, 2,
# 18, 2, heads 6, 12, 24, 48, window 7, drop path 0.3, no absolute position
# embedding), stages 2-4 into the neck, ImageNet-22K 224x224 weights, and
# confidence thresholds 0.3 for things and stuff.
# Reported: 55.8 PQ on val2017, 56.2 PQ on test-dev.
_base_ = './panoptic-segformer_r50_8xb1-24e_coco-panoptic.py'

# The official Swin-L ImageNet-22K (224x224, window 7) file; mmdet's Swin
# reads its 'model' entry and converts the keys (`convert_weights=True`).
pretrained = ('https://github.com/SwinTransformer/storage/releases/download/'
              'v1.0.0/swin_large_patch4_window7_224_22k.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=224,
        embed_dims=192,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(1, 2, 3),
        with_cp=False,
        convert_weights=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[384, 768, 1536]),
    test_cfg=dict(thing_score_thr=0.3, stuff_score_thr=0.3))
