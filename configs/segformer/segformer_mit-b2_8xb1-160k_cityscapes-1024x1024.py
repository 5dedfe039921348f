# SegFormer MiT-B2 on Cityscapes at 1024x1024: paper 81.0 mIoU.
# The recipe is the B0 config's; only the encoder and decoder width change.
_base_ = ['./segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py']
checkpoint = 'pretrain/mit_b2_mmext.pth'
model = dict(
    backbone=dict(
        arch='b2',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=768))
