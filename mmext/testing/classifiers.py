"""The small classifiers the tests build: an mmpretrain ResNet-18 at a
chosen width with scoped types, so it builds whatever default scope an
earlier test left; and a two-block BatchNorm network in float64 for the
inversion tests, whose paths must agree to rounding."""
import torch
from torch import nn

__all__ = ['resnet18_classifier_cfg', 'tiny_bn_classifier']


def tiny_bn_classifier() -> nn.Module:
    """conv-BN-ReLU x2, 2x2 average pooling and a linear layer (3 input
    channels, 5 classes) in float64 and eval mode, seeded (the same weights
    every call), with running statistics drawn away from those of N(0, 1)
    inputs so that a BN prior on noise is not zero.

    Returns:
        nn.Module: Input [N, 3, H, W] -> logits [N, 5].
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                          nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(16, 5)).double().eval()
    for bn in (model[1], model[4]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return model


def resnet18_classifier_cfg(width: int = 16, num_classes: int = 5) -> dict:
    """The arguments of mmpretrain's ``ImageClassifier`` for a ResNet-18 at
    ``width`` channels (stem and first stage; the last stage has
    ``8 * width``), global average pooling and a linear head.

    Args:
        width (int): Channels of the stem and the first stage.
        num_classes (int): Outputs of the linear head.

    Returns:
        dict: ``ImageClassifier(**cfg)`` builds it; add
        ``type='mmpretrain.ImageClassifier'`` for a registry.
    """
    return dict(
        backbone=dict(type='mmpretrain.ResNet', depth=18,
                      stem_channels=width, base_channels=width,
                      out_indices=(3, )),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=num_classes,
                  in_channels=8 * width,
                  loss=dict(type='mmpretrain.CrossEntropyLoss')),
        data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor'))
