# DICOD's released recipe (Guo et al., NeurIPS 2021; NVlabs/DICOD
# configs_dev/ssd/ssd300_coco_cls_loc.py): mmdet's SSD300 VGG16 (its
# augmentation, RepeatDataset x5, 24 epochs, SGD 2e-3, 8 GPUs x 8 images)
# distilled from the SSD teacher with KD_cls (T = 2, weight 0.4) and KD_loc
# on pixels (4x4) and the teacher's stem (8x8), one weight 0.15, 112 px
# crops. Paper, COCO val2017 mAP: 25.6 -> 27.9.
_base_ = ['mmdet::ssd/ssd300_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

teacher_config = '{{fileDirname}}/teacher_resnet50_8xb64-30e_coco-objects-ssd-112px.py'  # noqa: E501
model = dict(
    _delete_=True,
    type='mmext.DICODDistiller',
    student={{_base_.model}},
    teacher=dict(cfg_path=teacher_config),
    teacher_ckpt='work_dirs/teacher_resnet50_8xb64-30e_coco-objects-ssd-112px/epoch_30.pth',  # noqa: E501
    # kd_cls and kd_loc: the distiller's defaults are the paper's (T = 2,
    # weights 0.4 and 0.15, 112 px crops, pixels 4x4 + stem 8x8).
)
