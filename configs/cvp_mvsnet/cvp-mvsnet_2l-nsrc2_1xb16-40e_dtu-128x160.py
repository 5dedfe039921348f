# CVP-MVSNet (Yang et al., "Cost Volume Pyramid Based Depth Inference for
# Multi-View Stereo", CVPR 2020), the supervised network of self-supervised
# CVP-MVSNet (Yang, Alvarez, Liu, CVPR 2021): the released training recipe
# (train.sh and argsParser.py of the public repository JiayuYANG/CVP-MVSNet).
# 128x160 images, 2 pyramid levels, 2 source views, batch 16, Adam 1e-3,
# learning rate halved after epochs 10, 12, 14 and 20, 40 epochs; the
# refinement level's residual interval fixed at 6.8085 mm.
#   python tools/train.py configs/cvp_mvsnet/cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py
# Test the weights at 1184x1600 with
# cvp-mvsnet_5l-nsrc4_1xb16-40e_dtu-1184x1600.py. The Shapes-MVS configs
# inherit this recipe (cvp-mvsnet_2l-nsrc2_1xb4-1600it_shapes-mvs-64x80.py).
_base_ = [
    '../_base_/datasets/dtu_mvs.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmext.CVPMVSNet',
    num_levels=2,
    num_initial_planes=48,
    num_residual_planes=8,
    residual_interval=6.8085)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[10, 12, 14, 20],
         gamma=0.5),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40)
test_cfg = dict(type='TestLoop')
# The test set has no depth: tools/test.py needs a depth-carrying test set
# (e.g. Shapes-MVS); DTU is scored by tools/mvs/fuse_depths.py.
test_evaluator = dict(type='mmext.MVSDepthMetric')
