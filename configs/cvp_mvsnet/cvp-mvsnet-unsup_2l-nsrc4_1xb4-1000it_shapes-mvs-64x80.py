# Stage 1 of self-supervised CVP-MVSNet (Yang, Alvarez, Liu, "Self-supervised
# Learning of Depth Inference for Multi-view Stereo", CVPR 2021, Sec. 3.1) on
# Shapes-MVS: the 64x80 supervised recipe
# (cvp-mvsnet_2l-nsrc2_1xb4-1600it_shapes-mvs-64x80.py, inherited: 2 levels,
# Adam 1e-3, batch 4, He initialisation of the feature CNN, learning-rate
# halvings at 60-90 % of training) trained without depth labels, from mmext.UnsupervisedMVSLoss: the source
# images warped onto the reference through the estimated depth at every level,
# the best 3 per pixel, SSIM and edge-aware smoothness (weights 12 / 6 /
# 0.18, Khot et al. 2019). The paper did not release this stage; the loss,
# its weights and 4 source views per sample (so that the best 3 of 4 can
# leave out an occluded view) are assumptions. 1000 iterations: with 4
# source views and the loss's warps an iteration takes about 1.7 s on 2 CPU
# cores, so this stage takes about 28 minutes.
#   python tools/train.py configs/cvp_mvsnet/cvp-mvsnet-unsup_2l-nsrc4_1xb4-1000it_shapes-mvs-64x80.py
# The whole pipeline (this stage, then rounds of pseudo labels and training):
#   python tools/mvs/self_train.py configs/cvp_mvsnet/cvp-mvsnet-selfsup_2l-nsrc2_1xb4-1600it-2r_shapes-mvs-64x80.py
_base_ = ['./cvp-mvsnet_2l-nsrc2_1xb4-1600it_shapes-mvs-64x80.py']

model = dict(
    unsupervised_loss=dict(
        type='mmext.UnsupervisedMVSLoss',
        w_rec=12.0,
        w_ssim=6.0,
        w_smooth=0.18,
        topk=3))

# No depth is read for training; validation keeps the test scans' ground
# truth for mmext.MVSDepthMetric.
train_dataloader = dict(dataset=dict(nsrc=4, with_depth=False))

max_iters = 1000
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False,
         milestones=[int(max_iters * f) for f in (0.6, 0.7, 0.8, 0.9)],
         gamma=0.5),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=max_iters, val_interval=max_iters)
