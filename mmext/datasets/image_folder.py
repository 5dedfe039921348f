"""An ImageNet-style class-folder dataset (with an optional list file)."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmext.registry import DATASETS
from mmext.utils.data_check import shapes_command

IMG_EXTENSIONS: Tuple[str, ...] = ('.jpg', '.jpeg', '.png', '.bmp')


def _missing_path_error(what: str, path: str,
                        data_root: str) -> FileNotFoundError:
    """A ``FileNotFoundError`` naming ``path``, with the Shapes hint."""
    msg = f'ImageFolderDataset: {what} {path!r} does not exist'
    if 'shapes' in path.lower():
        # The Shapes suite is generated, never downloaded.
        if data_root and 'shapes' in data_root.lower():
            root = osp.normpath(data_root)
        else:
            parts = osp.normpath(path).split(os.sep)
            idx = max(i for i, p in enumerate(parts) if 'shapes' in p.lower())
            root = os.sep.join(parts[:idx + 1]) or path
        msg += ('; it is part of the synthetic Shapes suite, generate it '
                f'with: {shapes_command(out=root)}')
    return FileNotFoundError(msg)


def _list_images(folder: str) -> List[str]:
    """Sorted names of the image files directly inside ``folder``."""
    return sorted(
        entry.name for entry in os.scandir(folder) if entry.is_file()
        and osp.splitext(entry.name)[1].lower() in IMG_EXTENSIONS)


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Single-label images stored as ``<img_dir>/<class_name>/<image>``.

    ``img_dir`` is ``data_root`` joined with ``data_prefix``. Two modes:

    - **folder mode** (``ann_file=''``): every image with a
      ``.jpg/.jpeg/.png/.bmp`` extension in a class folder. Classes come
      from ``metainfo=dict(classes=...)`` (label = index in that list) or,
      when not given, from the sorted sub-folder names.
    - **list mode** (``ann_file`` set, like mmpretrain's ``CustomDataset``):
      a text file with one ``<path relative to img_dir> <int label>`` per
      line; blank lines are skipped. Classes come from ``metainfo`` if
      given, otherwise they are left unset.

    Each item of ``data_list`` is ``dict(img_path=str, gt_label=int)``.

    Args:
        data_root (str): Root joined with ``data_prefix`` and
            ``ann_file``. Defaults to ''.
        data_prefix (str | dict): Image directory, relative to
            ``data_root``, as a string or ``dict(img_path=...)``.
            Defaults to ''.
        ann_file (str): Optional list file. Defaults to ''.
        metainfo (dict, optional): May hold ``classes``. Defaults to None.
        **kwargs: Other ``mmengine.dataset.BaseDataset`` arguments
            (``pipeline``, ``test_mode``, ``lazy_init``, ``indices``, ...).

    Examples:
        >>> ds = ImageFolderDataset(
        ...     data_root='data/shapes/',
        ...     data_prefix='classification/train')
        >>> ds.metainfo['classes'][:2], ds.get_cat_ids(0)
    """

    METAINFO: dict = dict()

    def __init__(self,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        if set(data_prefix) != {'img_path'}:
            raise ValueError('ImageFolderDataset: data_prefix must be a str '
                             "or dict(img_path=...), got "
                             f'{data_prefix}')
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    @property
    def img_dir(self) -> str:
        """str: The directory holding the images (or class folders)."""
        return self.data_prefix['img_path']

    def _given_classes(self) -> Optional[Tuple[str, ...]]:
        classes = self._metainfo.get('classes')
        if classes is None:
            return None
        if isinstance(classes, str) or not isinstance(classes, Sequence) \
                or len(classes) == 0 or len(set(classes)) != len(classes):
            raise ValueError(
                "ImageFolderDataset: metainfo['classes'] must be a non-empty "
                f'sequence of distinct names, got {classes!r}')
        return tuple(classes)

    def load_data_list(self) -> List[dict]:
        """Scan the class folders or read the list file.

        Returns:
            list[dict]: ``dict(img_path=str, gt_label=int)`` per image.
        """
        if not osp.isdir(self.img_dir):
            raise _missing_path_error(
                'image directory (data_root + data_prefix)', self.img_dir,
                self.data_root)
        if self.ann_file:
            return self._load_list_file()
        return self._scan_folders()

    def _scan_folders(self) -> List[dict]:
        classes = self._given_classes()
        folders = sorted(
            e.name for e in os.scandir(self.img_dir) if e.is_dir())
        if classes is None:
            if not folders:
                raise ValueError(
                    'ImageFolderDataset: no class folders in data_prefix '
                    f'{self.img_dir!r}; expected <class_name>/<image> '
                    'sub-folders (or pass ann_file)')
            classes = tuple(folders)
            self._metainfo['classes'] = classes
        else:
            missing = [c for c in classes if c not in folders]
            if missing:
                raise ValueError(
                    f"ImageFolderDataset: metainfo['classes'] lists "
                    f'{missing} but {self.img_dir!r} has no such folder '
                    f'(folders: {folders})')
            extra = sorted(set(folders) - set(classes))
            if extra:
                print_log(
                    f'ImageFolderDataset: ignoring folders {extra} of '
                    f"{self.img_dir!r}, not in metainfo['classes']",
                    logger='current')
        data_list = []
        for label, name in enumerate(classes):
            class_dir = osp.join(self.img_dir, name)
            images = _list_images(class_dir)
            if not images:
                raise ValueError(
                    f'ImageFolderDataset: class folder {class_dir!r} '
                    f'(class {name!r}) holds no {"/".join(IMG_EXTENSIONS)} '
                    'images; remove the folder or drop the class from '
                    "metainfo['classes']")
            data_list.extend(
                dict(img_path=osp.join(class_dir, img), gt_label=label)
                for img in images)
        return data_list

    def _load_list_file(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise _missing_path_error('ann_file', self.ann_file,
                                      self.data_root)
        classes = self._given_classes()
        data_list = []
        with open(self.ann_file, encoding='utf-8') as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line:
                    continue
                where = f'ann_file {self.ann_file!r} line {lineno}'
                parts = line.rsplit(maxsplit=1)
                try:
                    path, gt_label = parts[0], int(parts[1])
                except (IndexError, ValueError):
                    path, gt_label = '', -1
                if gt_label < 0:
                    raise ValueError(
                        f'ImageFolderDataset: {where}: expected '
                        f"'<relative/path> <int label >= 0>', got {line!r}")
                if classes is not None and gt_label >= len(classes):
                    raise ValueError(
                        f'ImageFolderDataset: {where}: unknown class label '
                        f"{gt_label}; metainfo['classes'] has "
                        f'{len(classes)} classes')
                data_list.append(
                    dict(
                        img_path=osp.join(self.img_dir, path),
                        gt_label=gt_label))
        if not data_list:
            raise ValueError(
                f'ImageFolderDataset: ann_file {self.ann_file!r} lists no '
                'images')
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """Category of the ``idx``-th image, for class-aware samplers.

        Args:
            idx (int): Index of the image.

        Returns:
            list[int]: ``[gt_label]``.
        """
        return [int(self.get_data_info(idx)['gt_label'])]
