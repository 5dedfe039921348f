# The peer of RIO's image-level sampler: MMEngine's ClassBalancedDataset
# (the repeat-factor sampling of LVIS, Gupta et al., CVPR 2019, as mmdet's
# LVIS configs use it) at the same threshold as
# rfs-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py (t = 0.1 on
# these 1000 images, as t = 1e-3 on LVIS's ~100k). The factors are the
# same, r(I) = max(1, max_c sqrt(t / f(c))); ClassBalancedDataset repeats
# each image ceil(r(I)) times in every epoch, where RIO's sampler repeats
# it floor(r(I)) times plus once more with probability r(I) - floor(r(I)),
# drawn anew each epoch (stochastic rounding, Gupta et al. section 4).
_base_ = './faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=0.1,
        dataset={{_base_.train_dataloader.dataset}}))
