"""Deprecated: ``mmext.PackClsInputs`` is mmpretrain's ``PackInputs``."""
from mmpretrain.datasets.transforms import PackInputs

from mmext.registry import TRANSFORMS
from mmext.utils.deprecation import warn_replaced


@TRANSFORMS.register_module()
class PackClsInputs(PackInputs):
    """mmpretrain's ``PackInputs``, with a ``DeprecationWarning``.

    Packs ``img`` into ``inputs`` [C, H, W] and ``gt_label`` into an
    mmpretrain ``DataSample``. Kept for one release.
    """

    def __init__(self, **kwargs) -> None:
        warn_replaced('mmext.PackClsInputs',
                      "mmpretrain's PackInputs (type='PackInputs')")
        super().__init__(**kwargs)
