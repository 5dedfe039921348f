# Image-level resampling only (RIO's stochastic repeat-factor sampler). With
# 1000 training images LVIS's t = 1e-3 would repeat nothing (a class in
# 5 images has f = 0.005 > t); t = 0.1 repeats the images of classes in
# fewer than 100 of them, as t = 1e-3 does for LVIS's ~100k images:
# ring x4.5, cross x3.8, star x3.2, hexagon x2.5, pentagon x1.9,
# triangle x1.3.
_base_ = './faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py'
train_dataloader = dict(
    sampler=dict(
        _delete_=True, type='mmext.RepeatFactorSampler', repeat_thr=0.1))
