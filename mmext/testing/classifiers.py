"""The small mmpretrain classifier the tests build: a ResNet-18 at a
chosen width with scoped types, so it builds whatever default scope an
earlier test left."""

__all__ = ['resnet18_classifier_cfg']


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
