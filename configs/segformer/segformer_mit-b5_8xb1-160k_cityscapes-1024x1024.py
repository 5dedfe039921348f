# SegFormer MiT-B5 on Cityscapes at 1024x1024: paper 82.4 mIoU.
# The recipe is the B0 config's; only the encoder and decoder width change.
_base_ = ['./segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py']
checkpoint = 'pretrain/mit_b5_mmext.pth'
model = dict(
    backbone=dict(
        arch='b5',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=768))
