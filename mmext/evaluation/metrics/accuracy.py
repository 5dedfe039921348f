"""Deprecated: ``mmext.Accuracy`` is mmpretrain's ``Accuracy``."""
from mmpretrain.evaluation import Accuracy as MMPretrainAccuracy

from mmext.registry import METRICS
from mmext.utils.deprecation import warn_replaced


@METRICS.register_module()
class Accuracy(MMPretrainAccuracy):
    """mmpretrain's top-k ``Accuracy`` (``accuracy/top{k}``, percent), with
    a ``DeprecationWarning``. Kept for one release."""

    def __init__(self, *args, **kwargs) -> None:
        warn_replaced('mmext.Accuracy',
                      "mmpretrain's Accuracy (type='Accuracy')")
        super().__init__(*args, **kwargs)
