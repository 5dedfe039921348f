# SegFormer MiT-B5 on ADE20K at 512x512: the paper reports B5 at 640x640 only;
# mmseg's model zoo has 49.13 mIoU for B5 at 512x512.
# The recipe is the B0 config's; only the encoder and decoder width change.
_base_ = ['./segformer_mit-b0_8xb2-160k_ade20k-512x512.py']
checkpoint = 'pretrain/mit_b5_mmext.pth'
model = dict(
    backbone=dict(
        arch='b5',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=768))
