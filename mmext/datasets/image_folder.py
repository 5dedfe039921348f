"""Deprecated: ``mmext.ImageFolderDataset`` is mmpretrain's
``CustomDataset``."""
from typing import List, Optional, Union

from mmpretrain.datasets import CustomDataset

from mmext.registry import DATASETS
from mmext.utils.deprecation import warn_replaced


@DATASETS.register_module()
class ImageFolderDataset(CustomDataset):
    """mmpretrain's ``CustomDataset``, with a ``DeprecationWarning``.

    Kept for one release. One difference from ``CustomDataset`` is kept:
    when class folders are scanned (no ``ann_file``) and
    ``metainfo=dict(classes=...)`` is given, a folder's label is the index
    of its name in ``classes`` (``CustomDataset`` numbers the folders in
    sorted order whatever ``classes`` says).

    Args:
        data_root (str): Root of ``data_prefix`` and ``ann_file``.
        data_prefix (str | dict): Image folder under ``data_root``.
        ann_file (str): Optional list file, ``<path> <label>`` per line.
        metainfo (dict, optional): May hold ``classes``.
        **kwargs: Other ``CustomDataset`` arguments.

    Raises:
        ValueError: If a scanned folder is not one of ``classes``.
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        warn_replaced('mmext.ImageFolderDataset',
                      "mmpretrain's CustomDataset (type='CustomDataset')")
        super().__init__(data_root=data_root, data_prefix=data_prefix,
                         ann_file=ann_file, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        """``CustomDataset``'s list, labels remapped to ``classes``."""
        data_list = super().load_data_list()
        folder_to_idx = getattr(self, 'folder_to_idx', None)
        if self.ann_file or not folder_to_idx or self.CLASSES is None:
            return data_list
        classes = list(self.CLASSES)
        unknown = sorted(set(folder_to_idx) - set(classes))
        if unknown:
            raise ValueError(
                f'ImageFolderDataset: class folders {unknown} are not in '
                f"metainfo['classes'] {classes}; rename them or list them")
        relabel = {idx: classes.index(name)
                   for name, idx in folder_to_idx.items()}
        for info in data_list:
            info['gt_label'] = relabel[info['gt_label']]
        return data_list
