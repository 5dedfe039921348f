# SegFormer MiT-B1 on ADE20K at 512x512: paper 42.2 mIoU (single scale).
# The recipe is the B0 config's; only the encoder and decoder width change.
_base_ = ['./segformer_mit-b0_8xb2-160k_ade20k-512x512.py']
checkpoint = 'pretrain/mit_b1_mmext.pth'
model = dict(
    backbone=dict(
        arch='b1',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=256))
