# The Faster R-CNN MobileNetV2 student of DICOD (Guo et al., NeurIPS 2021,
# Table 1: 31.9 mAP on COCO val2017 with a 1x schedule), which mmdet does
# not ship: mmdet's Faster R-CNN R-50-FPN 1x with its ImageNet-pretrained
# MobileNetV2 (as mmdet's YOLOv3 MobileNetV2 uses). The paper does not say
# which stages feed the FPN; assumed here: the stride 4, 8, 16 and 32
# outputs (24, 32, 96 and 320 channels).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(1, 2, 4, 6),
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://mmdet/mobilenet_v2')),
    neck=dict(in_channels=[24, 32, 96, 320]))
