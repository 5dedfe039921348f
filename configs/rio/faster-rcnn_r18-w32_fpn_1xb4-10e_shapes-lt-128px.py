# Baseline for RIO's Shapes results: the Shapes Faster R-CNN smoke config
# (configs/shapes/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py) on the
# long-tailed Shapes variant in LVIS v1 format, evaluated with mmdet's
# LVISMetric (AP, APr, APc, APf). Train classes follow a Zipf plan: 'circle'
# in 981 of 1000 images, 'ring' in 5 (frequency groups: circle, square f;
# triangle, pentagon, hexagon c; star, cross, ring r). Generate with
#   python tools/misc/make_shapes.py --preset demo --out data/shapes_lt \
#       --long-tail
_base_ = '../shapes/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py'

data_root = 'data/shapes_lt/'
lvis_train_ann = data_root + 'annotations/lvis_v1_train.json'
train_dataloader = dict(
    dataset=dict(
        type='LVISV1Dataset',
        data_root=data_root,
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img='img_dir/')))
val_dataloader = dict(
    dataset=dict(
        type='LVISV1Dataset',
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img='img_dir/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='mmext.LVISMetric',  # mmdet's, with lvis 0.5.3 on numpy >= 1.24
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric='bbox')
test_evaluator = val_evaluator
