# Stage 1 of self-supervised CVP-MVSNet (Yang, Alvarez, Liu, "Self-supervised
# Learning of Depth Inference for Multi-view Stereo", CVPR 2021, Sec. 3.1) on
# DTU: the released 128x160 training recipe
# (cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py, inherited) with the depth
# labels replaced by mmext.UnsupervisedMVSLoss (Khot et al. 2019: the best 3
# of the warped source views per pixel, SSIM, edge-aware smoothness; weights
# 12 / 6 / 0.18). The paper released neither this loss nor its schedule;
# the pseudo-labelling script of its public repository
# (JiayuYANG/Self-supervised-CVP-MVSNet, self_training/self_training.sh)
# starts from the unsupervised checkpoint of epoch 10, hence 10 epochs
# here. The loss, 4 source views per sample and the 10 epochs are
# assumptions.
#   python tools/train.py configs/cvp_mvsnet/cvp-mvsnet-unsup_2l-nsrc4_1xb16-10e_dtu-128x160.py
# The whole pipeline: cvp-mvsnet-selfsup_2l-nsrc2_1xb16-40e-2r_dtu-128x160.py.
_base_ = ['./cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py']

model = dict(
    unsupervised_loss=dict(
        type='mmext.UnsupervisedMVSLoss',
        w_rec=12.0,
        w_ssim=6.0,
        w_smooth=0.18,
        topk=3))

train_dataloader = dict(dataset=dict(nsrc=4, with_depth=False))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[10], gamma=0.5),
]
