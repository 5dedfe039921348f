# The test setting of CVP-MVSNet (eval.sh of the public repository
# JiayuYANG/CVP-MVSNet) for weights trained with
# cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py: 1184x1600 (the 1200x1600
# images cropped to their top 1184 rows), 5 pyramid levels (coarsest
# 74x100), 4 source views, light 3, and the residual interval of every
# refinement level from the one-pixel epipolar rule.
#   python tools/mvs/fuse_depths.py \
#       configs/cvp_mvsnet/cvp-mvsnet_5l-nsrc4_1xb16-40e_dtu-1184x1600.py \
#       CHECKPOINT --out work_dirs/cvp_mvsnet_dtu_points
#   python tools/mvs/eval_point_clouds.py work_dirs/cvp_mvsnet_dtu_points \
#       DTU_POINTS_ROOT
# Weights converted from the released checkpoint
# (tools/model_converters/cvpmvsnet2mmext.py) need
# --cfg-options model.reference_quirks=True.
_base_ = ['./cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160.py']

model = dict(num_levels=5, residual_interval='epipolar', interval_pixels=1.0)
