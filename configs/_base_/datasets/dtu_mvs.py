# DTU (Aanaes et al., IJCV 2016) in the layout CVP-MVSNet reads (Yang et al.,
# CVPR 2020, public repository JiayuYANG/CVP-MVSNet): the 128x160 training
# set (images and depth at 128x160, not MVSNet's 512x640 images) and the
# 1200x1600 test set, as two roots:
#   data/dtu/dtu-train-128/{Cameras,Rectified,Depths,scan_list_train.txt}
#   data/dtu/dtu-test-1200/{Cameras,Rectified,scan_list_test.txt}
train_root = 'data/dtu/dtu-train-128'
test_root = 'data/dtu/dtu-test-1200'

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='mmext.DTUMVSDataset',
        data_root=train_root,
        split='train',
        nsrc=2,
        num_levels=2,
        lights=(0, 1, 2, 3, 4, 5, 6)))

# The test recipe: light 3, 4 source views, 5 levels, the 1200x1600 images
# cropped to their top 1184 rows (divisible by 2^4). The test set has no
# depth maps: it is evaluated by fusing point clouds
# (tools/mvs/fuse_depths.py, then tools/mvs/eval_point_clouds.py).
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='mmext.DTUMVSDataset',
        data_root=test_root,
        split='test',
        nsrc=4,
        num_levels=5,
        crop=(1184, 1600)))
