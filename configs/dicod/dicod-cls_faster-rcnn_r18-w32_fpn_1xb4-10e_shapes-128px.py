# DICOD's recognition distillation alone (KD_cls, no KD_loc) on the Shapes
# smoke Faster R-CNN; see
# dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py.
_base_ = ['./dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py']
model = dict(kd_loc=None)
