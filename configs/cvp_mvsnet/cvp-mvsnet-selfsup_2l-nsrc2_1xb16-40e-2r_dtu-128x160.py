# Self-supervised CVP-MVSNet (Yang, Alvarez, Liu, "Self-supervised Learning
# of Depth Inference for Multi-view Stereo", CVPR 2021) on DTU with the
# pseudo-labelling parameters of its public repository
# (JiayuYANG/Self-supervised-CVP-MVSNet, self_training/):
#   python tools/mvs/self_train.py configs/cvp_mvsnet/cvp-mvsnet-selfsup_2l-nsrc2_1xb16-40e-2r_dtu-128x160.py \
#       --work-dir work_dirs/cvp_mvsnet_selfsup_dtu
# 1. Stage 1: cvp-mvsnet-unsup_2l-nsrc4_1xb16-10e_dtu-128x160.py.
# 2. Each round labels the training scans: the network at 1184x1600 (5
#    levels, 4 source views, the one-pixel epipolar interval, as the
#    reference's eval.py) on the training scans' 1200x1600 images under
#    light 3 (data/dtu/dtu-train-nodepth-1200: the training scans in the
#    test layout, scan_list_test.txt listing them, as the reference reads
#    them); probability > 0.8; fusion where 3 neighbouring views agree (the
#    reference runs fusibile with disp_thresh 0.13; mmext's fusion takes the
#    same 0.13 as its reprojection threshold in pixels, with a 1 % relative
#    depth check, an assumption); screened Poisson at octree depth 12 with
#    the lowest 5 % of the density trimmed; depth ray cast at 128x160 with
#    the reference's camera adjustment (K / 8, then cx - 20, cy - 11: the
#    MVSNet training crop) and depths beyond the range zeroed.
# 3. This config then trains on the labels: the released supervised recipe
#    (cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py, inherited) from scratch,
#    as the reference reruns train.sh. Two rounds; the reference's script
#    runs one per call (ITR), and the paper's count was not published.
_base_ = ['./cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py']

self_training = dict(
    unsupervised='./cvp-mvsnet-unsup_2l-nsrc4_1xb16-10e_dtu-128x160.py',
    rounds=2,
    init_from_previous=False)

# The rounds train on pseudo depth, which has holes wherever a label was not
# confident: coarse levels drop the pixels that the downsampling filter
# blends with a hole (an mmext option; the reference keeps them, and on
# Shapes-MVS 14 % of the coarse labels were then off by over 20 mm).
train_dataloader = dict(dataset=dict(drop_blended_depth=True))

pseudo_label = dict(
    model=dict(num_levels=5, residual_interval='epipolar',
               interval_pixels=1.0),
    data=dict(
        type='mmext.DTUMVSDataset',
        data_root='data/dtu/dtu-train-nodepth-1200',
        split='test',
        nsrc=4,
        num_levels=5,
        crop=(1184, 1600)),
    target=dict(data_root='data/dtu/dtu-train-128', cameras='adjusted',
                scale=0.125, offset=(-20.0, -11.0), size=(128, 160),
                with_gt=False),
    settings=dict(
        confidence_threshold=0.8,
        num_consistent=3,
        max_reprojection_error=0.13,
        max_relative_depth_error=0.01,
        poisson_depth=12,
        trim_quantile=0.05,
        min_points=1000))
