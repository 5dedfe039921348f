"""Deprecated: ``mmext.ImageClassifier`` builds mmpretrain's classifier.

mmext's classification configs use mmpretrain's ``ImageClassifier``
(``default_scope = 'mmpretrain'``). For one release, the old type with its
old arguments still builds, with a ``DeprecationWarning``: the backbone, a
global average pooling neck and mmpretrain's ``LinearClsHead`` (parameter
names ``backbone.*`` and ``head.fc.*`` as before, so old checkpoints load).
"""
from typing import List, Optional, Union

from mmext.registry import MODELS
from mmext.utils.deprecation import warn_replaced


@MODELS.register_module(name='ImageClassifier')
def build_deprecated_image_classifier(
        backbone: dict,
        num_classes: int,
        in_channels: int,
        neck: Optional[dict] = None,
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[Union[dict, List[dict]]] = None):
    """mmpretrain's ``ImageClassifier`` from the old mmext arguments.

    Args:
        backbone (dict): Backbone config (scope-prefixed types resolve from
            any default scope).
        num_classes (int): Number of classes.
        in_channels (int): Channels of the pooled feature.
        neck (dict, optional): Not supported any more: must be None.
        dropout (float): Not supported any more: must be 0.
        label_smoothing (float): Label smoothing of the cross-entropy
            (mmpretrain's ``LabelSmoothLoss``, ``mode='original'``).
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreProcessor``.
        init_cfg (dict | list[dict], optional): Initialisation config.

    Returns:
        mmpretrain.models.ImageClassifier: The classifier.

    Raises:
        ValueError: For a ``neck`` or a ``dropout``, which the replacement
            expresses differently (write an mmpretrain config instead).
    """
    from mmpretrain.models import ImageClassifier
    warn_replaced('mmext.ImageClassifier',
                  "mmpretrain's ImageClassifier (type='ImageClassifier' "
                  "with default_scope='mmpretrain')")
    if neck is not None or dropout:
        raise ValueError(
            'mmext.ImageClassifier: neck and dropout are not supported by '
            "the deprecated alias; write the model as mmpretrain's "
            "ImageClassifier (neck=dict(type='GlobalAveragePooling'), "
            "head=dict(type='LinearClsHead', ...))")
    if label_smoothing:
        loss = dict(type='mmpretrain.LabelSmoothLoss',
                    label_smooth_val=label_smoothing, mode='original')
    else:
        loss = dict(type='mmpretrain.CrossEntropyLoss')
    # Scoped, so that it builds under any default scope.
    data_preprocessor = dict(data_preprocessor or {})
    data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
    return ImageClassifier(
        backbone=backbone,
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=num_classes,
                  in_channels=in_channels, loss=loss, topk=(1, )),
        data_preprocessor=data_preprocessor,
        init_cfg=init_cfg)
