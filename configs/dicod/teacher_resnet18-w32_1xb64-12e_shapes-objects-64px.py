# DICOD's classification teacher on Shapes: the Shapes classifier
# (mmpretrain's ResNet-18 at half width) trained on every ground-truth
# object of the Shapes detection training set, cropped to 64 px:
#   python tools/misc/crop_objects.py \
#       data/shapes/annotations/instances_train.json \
#       data/shapes/img_dir/train data/shapes_objects/train --size 64
#   python tools/misc/crop_objects.py \
#       data/shapes/annotations/instances_val.json data/shapes/img_dir/val \
#       data/shapes_objects/val --size 64
# Labels follow the detection set's category order, and the normalisation
# (mean, std, BGR->RGB) is the detector's: the teacher classifies crops of
# the detector's normalised input.
_base_ = ['../shapes/cls_resnet18-w32_1xb64-12e_shapes-64px.py']

data_root = 'data/shapes_objects/'
train_dataloader = dict(
    dataset=dict(
        data_root=data_root, ann_file='train/meta.txt', data_prefix='train'))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root, ann_file='val/meta.txt', data_prefix='val'))
test_dataloader = val_dataloader
