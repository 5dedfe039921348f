# DICOD on Faster R-CNN with a MobileNetV2 backbone, 1x schedule (Guo et
# al., NeurIPS 2021, Table 1). Paper, COCO val2017 mAP: 31.9 -> 32.7.
_base_ = ['./faster-rcnn_mobilenetv2_fpn_1x_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

teacher_config = '{{fileDirname}}/teacher_resnet50_8xb64-30e_coco-objects-112px.py'  # noqa: E501
model = dict(
    _delete_=True,
    type='mmext.DICODDistiller',
    student={{_base_.model}},
    teacher=dict(cfg_path=teacher_config),
    teacher_ckpt='work_dirs/teacher_resnet50_8xb64-30e_coco-objects-112px/epoch_30.pth',  # noqa: E501
    # kd_cls and kd_loc: the distiller's defaults are the paper's (T = 2,
    # weights 0.4 and 0.15, 112 px crops, pixels 4x4 + stem 8x8).
)
