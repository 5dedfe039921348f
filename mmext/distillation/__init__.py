"""Classifier-to-detector distillation (DICOD) in plain PyTorch.

Guo et al., "Distilling Image Classifiers in Object Detectors", NeurIPS 2021
(arXiv 2106.05209). The functions here know nothing of registries or
runners: the spatial-transformer crop, the two recognition KD losses and
the localisation KD loss. :class:`mmext.models.det.DICODDistiller` wires them
into any mmdet detector.
"""
from .crops import crop_boxes
from .kd_cls import kd_cls_sigmoid, kd_cls_softmax
from .kd_loc import kd_loc
from .teacher_stages import resnet_stage_outputs

__all__ = [
    'crop_boxes', 'kd_cls_softmax', 'kd_cls_sigmoid', 'kd_loc',
    'resnet_stage_outputs'
]
