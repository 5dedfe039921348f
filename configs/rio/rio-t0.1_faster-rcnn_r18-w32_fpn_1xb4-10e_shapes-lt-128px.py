# Joint RIO: the repeat-factor sampler of
# rfs-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py plus
# object-centric memory replay (mmext.RIORoIHead: banks of 60 RoI features
# for the rare classes and the common ones with <= 30 images, here pentagon,
# hexagon, star, cross, ring; 20 replayed per present class) and RIO's
# cosine classifier (scale 48).
_base_ = './rfs-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-lt-128px.py'
model = dict(
    roi_head=dict(
        type='mmext.RIORoIHead',
        memory_classes={{_base_.lvis_train_ann}},
        memory_capacity=60,
        memory_replay=20,
        memory_common_max_images=30,
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=48))))
