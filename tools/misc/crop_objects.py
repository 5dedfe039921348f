# Copyright (c) mmext contributors. All rights reserved.
"""Crop every ground-truth object of a COCO detection set into class folders.

Usage::

    python tools/misc/crop_objects.py ANN_FILE IMG_DIR OUT \\
        [--size 112] [--min-size N]

    python tools/misc/crop_objects.py \\
        data/shapes/annotations/instances_train.json \\
        data/shapes/img_dir/train data/shapes_objects/train

This builds the training set of the classification teacher of
classifier-to-detector distillation (Guo et al., "Distilling Image
Classifiers in Object Detectors", NeurIPS 2021, arXiv 2106.05209, Sec. 3:
the teacher is trained on every ground-truth object cropped from the
detection training set). Each object's box ``[x, y, w, h]`` (COCO pixels,
continuous coordinates) is clipped to the image and resampled bilinearly,
with sub-pixel accuracy, to ``SIZE x SIZE`` without keeping the aspect ratio
(the paper's spatial-transformer crop also warps each box to a square).
Pixels are read as stored (no EXIF rotation), the frame the COCO boxes use.

Output::

    OUT/<class name>/<image file stem>_<annotation id>.png   RGB crops
    OUT/classes.txt    one class name a line, in label order
    OUT/meta.txt       '<class name>/<file>.png <label>' a line

Labels: label ``i`` is the ``i``-th entry of the file's ``categories`` array
(file order, whatever the category ids are; COCO's 80 ids ``1..90`` give
labels ``0..79``). This is what mmdet 3.x's ``CocoDataset`` gives when its
``metainfo['classes']`` lists all categories in that order, so the
teacher's and the detector's labels agree. The class folder is the
category name, spaces kept (mmpretrain splits a ``meta.txt`` line at its
last space). Load the crops with mmpretrain's ``CustomDataset``::

    dict(type='CustomDataset', data_root='data/shapes_objects/train',
         ann_file='meta.txt', data_prefix='',
         metainfo=dict(classes=[...]))  # the lines of classes.txt

Not the folder scan without ``ann_file``: it numbers the folders
alphabetically, not in the file's category order.

Skipped (counted by reason in the summary printed at the end):
``iscrowd=1`` annotations, boxes of zero width or height after clipping,
annotations of an image the file does not list and, with ``--min-size N``,
objects whose clipped box has ``min(w, h) < N`` pixels.

``classes.txt`` and ``meta.txt`` are written atomically after all crops; an
old ``OUT/meta.txt`` is removed before the first crop is written, so a run
that stops early leaves no ``meta.txt``. Bad input (a missing ``ANN_FILE``
or ``IMG_DIR``, an image listed in ``ANN_FILE`` but missing in ``IMG_DIR``,
an unusable category name, ``--size`` below 1) exits with status 2 and a
message naming the argument or field, before anything is written.
"""
import argparse
import collections
import os
import os.path as osp
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.utils import ProgressBar
from PIL import Image
from pycocotools.coco import COCO

from mmext.utils.atomic import atomic_write

#: Bilinear resampling (``Image.Resampling`` exists from Pillow 9.1 on).
BILINEAR = getattr(Image, 'Resampling', Image).BILINEAR

#: Skip reasons, in the order they are checked and printed.
SKIP_CROWD = 'iscrowd=1'
SKIP_EMPTY = 'empty box after clipping'
SKIP_SMALL = 'smaller than --min-size'
SKIP_NO_IMAGE = 'image not listed in images'
SKIP_REASONS = (SKIP_CROWD, SKIP_EMPTY, SKIP_SMALL, SKIP_NO_IMAGE)

Box = Tuple[float, float, float, float]


class InputError(ValueError):
    """Bad input data; ``main`` prints it and exits with status 2."""


# ------------------------------------------------------------ arguments
def number_at_least(cast: Callable[[str], float], minimum: float,
                    example: str) -> Callable[[str], float]:
    """An argparse type: ``cast(text)``, refused below ``minimum`` (and
    NaN), with ``example`` in the message."""

    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'must be {"an integer" if cast is int else "a number"} '
                f'>= {minimum}, got {text!r}; '
                f'e.g. {example}')
        if not value >= minimum:  # also rejects nan
            raise argparse.ArgumentTypeError(
                f'must be at least {minimum}, got {text}; e.g. {example}')
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        description='Crop every ground-truth object of a COCO detection set '
        'into an ImageNet-style class-folder data set (the teacher data of '
        'classifier-to-detector distillation).')
    parser.add_argument('ann_file', metavar='ANN_FILE',
                        help='COCO instances JSON')
    parser.add_argument('img_dir', metavar='IMG_DIR',
                        help='folder of the images (their file_name is '
                        'relative to it)')
    parser.add_argument('out', metavar='OUT',
                        help='output folder (created if needed)')
    parser.add_argument('--size', type=number_at_least(int, 1, '--size 112'),
                        default=112,
                        help='side of the square crops in pixels '
                        '(default: 112)')
    parser.add_argument('--min-size',
                        type=number_at_least(float, 0, '--min-size 8'),
                        default=0.0,
                        metavar='N',
                        help='skip objects whose clipped box is less than '
                        'N pixels wide or high (default: 0, keep all)')
    return parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check arguments; errors exit with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not osp.isfile(args.ann_file):
        parser.error(f'argument ANN_FILE: no such file: {args.ann_file}; '
                     'give the COCO instances JSON, e.g. '
                     'data/coco/annotations/instances_train2017.json')
    if not osp.isdir(args.img_dir):
        parser.error(f'argument IMG_DIR: no such folder: {args.img_dir}; '
                     'give the folder that holds the images listed in '
                     'ANN_FILE, e.g. data/coco/train2017')
    if osp.exists(args.out) and not osp.isdir(args.out):
        parser.error(f'argument OUT: {args.out} exists and is not a folder; '
                     'give a new or existing folder')
    return args


# ------------------------------------------------------------ checks
def class_names(categories: Sequence[Dict]) -> List[str]:
    """The class names in label order (the ``categories`` file order).

    Args:
        categories (Sequence[dict]): The ``categories`` array of a COCO file.

    Returns:
        list[str]: ``names[label]``, each usable as a folder name and in an
        mmpretrain ``meta.txt`` line.

    Raises:
        InputError: On no categories, or a name that is empty, contains
            ``/``, ``\\`` or a line break, is ``.`` or ``..``, starts or
            ends with whitespace, or repeats another category's name.
    """
    if not categories:
        raise InputError('ANN_FILE has no categories; a COCO instances file '
                         'lists them in its "categories" array')
    names: List[str] = []
    first_id: Dict[str, int] = {}
    for cat in categories:
        name, cat_id = cat.get('name'), cat.get('id')
        where = f'category id {cat_id}: name {name!r}'
        if not isinstance(name, str) or not name:
            raise InputError(f'{where} is empty or not a string; give every '
                             'category a name (it becomes the class folder)')
        if any(ch in name for ch in '/\\\n\r') or name in ('.', '..'):
            raise InputError(f"{where} contains '/', '\\' or a line break, "
                             'or is . or ..; it cannot be a folder name, '
                             'rename the category')
        if name != name.strip():
            raise InputError(f'{where} starts or ends with whitespace, which '
                             "mmpretrain's meta.txt parsing drops; strip it")
        if name in first_id:
            raise InputError(f'{where} repeats the name of category id '
                             f'{first_id[name]}; class folders must differ')
        first_id[name] = cat_id
        names.append(name)
    return names


def check_annotations(coco: COCO) -> None:
    """Check that every annotation names a listed category.

    Args:
        coco (COCO): The loaded annotation file.

    Raises:
        InputError: Naming the first annotation with an unknown
            ``category_id``.
    """
    for ann in coco.dataset.get('annotations', []):
        if ann.get('category_id') not in coco.cats:
            raise InputError(
                f"annotation id {ann.get('id')}: category_id "
                f"{ann.get('category_id')} is not in ANN_FILE's categories; "
                'fix the annotation or add the category')


def missing_images(coco: COCO, img_dir: str) -> List[str]:
    """The ``file_name`` of each listed image that is not in ``img_dir``.

    Args:
        coco (COCO): The loaded annotation file.
        img_dir (str): The image folder.

    Returns:
        list[str]: Missing file names, in ``images`` order.
    """
    return [
        img['file_name'] for img in coco.dataset.get('images', [])
        if not osp.isfile(osp.join(img_dir, img['file_name']))
    ]


# ------------------------------------------------------------ cropping
def clip_box(bbox: Sequence[float], width: int, height: int) -> Box:
    """Clip a COCO box to the image.

    Args:
        bbox (Sequence[float]): ``[x, y, w, h]`` in continuous pixel
            coordinates (the image spans ``[0, width] x [0, height]``).
        width (int): Image width.
        height (int): Image height.

    Returns:
        tuple[float]: ``(x1, y1, x2, y2)``; ``x2 <= x1`` or ``y2 <= y1``
        when nothing of the box lies inside the image.
    """
    x, y, w, h = (float(v) for v in bbox)
    return (max(x, 0.0), max(y, 0.0), min(x + w, float(width)),
            min(y + h, float(height)))


def skip_reason(ann: Dict, box: Box, min_size: float) -> Optional[str]:
    """Why an annotation is not cropped, or ``None`` to crop it.

    Args:
        ann (dict): A COCO annotation.
        box (tuple[float]): Its box clipped to the image (:func:`clip_box`).
        min_size (float): The smallest kept ``min(w, h)`` in pixels.

    Returns:
        str | None: One of :data:`SKIP_REASONS`, or ``None``.
    """
    if ann.get('iscrowd', 0):
        return SKIP_CROWD
    w, h = box[2] - box[0], box[3] - box[1]
    if not (w > 0 and h > 0):
        return SKIP_EMPTY
    if min(w, h) < min_size:
        return SKIP_SMALL
    return None


def crop_object(img: Image.Image, box: Box, size: int) -> Image.Image:
    """Resample ``box`` of ``img`` to ``size x size`` (aspect not kept).

    Args:
        img (Image.Image): The whole image.
        box (tuple[float]): ``(x1, y1, x2, y2)`` inside the image; fractions
            of a pixel are honoured.
        size (int): Output side.

    Returns:
        Image.Image: The bilinear crop, ``size x size``.
    """
    return img.resize((size, size), BILINEAR, box=box)


def crop_file_name(file_name: str, ann_id: int) -> str:
    """``<image file stem>_<annotation id>.png``."""
    stem = osp.splitext(osp.basename(file_name))[0]
    return f'{stem}_{ann_id}.png'


def crop_dataset(coco: COCO, img_dir: str, out: str, names: Sequence[str],
                 size: int, min_size: float = 0.0,
                 progress: bool = True) -> Dict:
    """Crop and save every kept object of ``coco``.

    Images are visited in ``images`` order and each image's annotations in
    file order.

    Args:
        coco (COCO): The loaded annotation file.
        img_dir (str): The image folder.
        out (str): The output folder; ``out/<name>`` is created for every
            class.
        names (Sequence[str]): Class names in label order
            (:func:`class_names`).
        size (int): Side of the square crops.
        min_size (float): Skip objects with ``min(w, h) < min_size``.
        progress (bool): Show a progress bar over the images.

    Returns:
        dict: ``records`` (list of ``(relative path, label)``), ``kept``
        (crops per label) and ``skipped`` (count per reason) as
        :class:`collections.Counter`, and ``resized_images`` (images whose
        size on disk differs from their ``width``/``height`` entry).
    """
    label_of = {cat['id']: i
                for i, cat in enumerate(coco.dataset['categories'])}
    for name in names:
        os.makedirs(osp.join(out, name), exist_ok=True)
    records: List[Tuple[str, int]] = []
    kept: collections.Counter = collections.Counter()
    skipped: collections.Counter = collections.Counter()
    resized_images = 0
    images = coco.dataset.get('images', [])
    listed = {img['id'] for img in images}
    for ann in coco.dataset.get('annotations', []):
        if ann.get('image_id') not in listed:
            skipped[SKIP_NO_IMAGE] += 1
    bar = ProgressBar(len(images), file=sys.stdout) if progress else None
    for img_info in images:
        anns = coco.imgToAnns.get(img_info['id'], [])
        if anns:
            resized_images += _crop_image(img_info, anns, img_dir, out,
                                          names, label_of, size, min_size,
                                          records, kept, skipped)
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stdout.write('\n')
    return dict(records=records, kept=kept, skipped=skipped,
                resized_images=resized_images)


def _crop_image(img_info: Dict, anns: Sequence[Dict], img_dir: str,
                out: str, names: Sequence[str], label_of: Dict[int, int],
                size: int, min_size: float, records: List[Tuple[str, int]],
                kept: collections.Counter,
                skipped: collections.Counter) -> int:
    """Crop the annotations of one image; return 1 if its size on disk
    differs from its ``width``/``height`` entry, else 0."""
    path = osp.join(img_dir, img_info['file_name'])
    img: Optional[Image.Image] = None
    for ann in anns:
        if ann.get('iscrowd', 0):
            skipped[SKIP_CROWD] += 1
            continue
        if img is None:
            try:
                with Image.open(path) as raw:
                    img = raw.convert('RGB')
            except OSError as err:
                raise InputError(
                    f"images[id={img_info['id']}]: cannot read "
                    f"{img_info['file_name']!r} in IMG_DIR ({err}); replace "
                    'the file or remove the image from ANN_FILE')
        box = clip_box(ann['bbox'], *img.size)
        reason = skip_reason(ann, box, min_size)
        if reason is not None:
            skipped[reason] += 1
            continue
        label = label_of[ann['category_id']]
        rel = names[label] + '/' + crop_file_name(img_info['file_name'],
                                                  ann['id'])
        crop_object(img, box, size).save(osp.join(out, rel), format='PNG')
        records.append((rel, label))
        kept[label] += 1
    expected = (img_info.get('width'), img_info.get('height'))
    return int(img is not None and None not in expected
               and tuple(img.size) != expected)


def _text_writer(lines: Sequence[str]) -> Callable[[str], None]:
    """A ``write(path)`` for :func:`atomic_write` writing ``lines``."""

    def write(path: str) -> None:
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            f.writelines(line + '\n' for line in lines)

    return write


def write_meta(out: str, records: Sequence[Tuple[str, int]],
               names: Sequence[str]) -> None:
    """Write ``classes.txt`` and then ``meta.txt`` atomically.

    Args:
        out (str): The output folder.
        records (Sequence[tuple]): ``(relative path, label)`` of each crop.
        names (Sequence[str]): Class names in label order.
    """
    atomic_write(osp.join(out, 'classes.txt'), _text_writer(names))
    atomic_write(osp.join(out, 'meta.txt'),
                 _text_writer([f'{rel} {label}' for rel, label in records]))


def format_summary(result: Dict, names: Sequence[str], out: str) -> str:
    """The summary printed at the end: kept per class, skipped per reason.

    Args:
        result (dict): The return value of :func:`crop_dataset`.
        names (Sequence[str]): Class names in label order.
        out (str): The output folder.

    Returns:
        str: Several lines, without a final line break.
    """
    kept, skipped = result['kept'], result['skipped']
    width = max(len(name) for name in names)
    lines = [f'{len(result["records"])} crops in {len(names)} classes -> '
             f'{out}', 'kept per class (label, name, crops):']
    lines += [f'  {label:>4}  {name:<{width}}  {kept[label]}'
              for label, name in enumerate(names)]
    lines.append(f'skipped: {sum(skipped.values())}')
    lines += [f'  {reason}: {skipped[reason]}' for reason in SKIP_REASONS]
    if result['resized_images']:
        lines.append(f"note: {result['resized_images']} images differ in "
                     'size from their width/height in ANN_FILE; boxes were '
                     'clipped to the image on disk')
    return '\n'.join(lines)


def _error(message: str) -> int:
    """Print ``message`` the way argparse does and return status 2."""
    print(f'{osp.basename(sys.argv[0]) or "crop_objects.py"}: error: '
          f'{message}', file=sys.stderr)
    return 2


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    try:
        coco = COCO(args.ann_file)
    except (ValueError, KeyError, TypeError, AssertionError) as err:
        return _error(f'argument ANN_FILE: {args.ann_file} is not a COCO '
                      f'instances JSON ({err!r})')
    try:
        names = class_names(coco.dataset.get('categories', []))
        check_annotations(coco)
    except InputError as err:
        return _error(f'ANN_FILE {args.ann_file}: {err}')
    missing = missing_images(coco, args.img_dir)
    if missing:
        shown = ', '.join(repr(name) for name in missing[:5])
        more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
        return _error(
            f'{len(missing)} images listed in ANN_FILE (images[].file_name) '
            f'are not in IMG_DIR {args.img_dir}: {shown}{more}; check that '
            'IMG_DIR is the folder of this annotation file\'s images')
    os.makedirs(args.out, exist_ok=True)
    for stale in ('meta.txt', 'classes.txt'):
        if osp.isfile(osp.join(args.out, stale)):
            os.remove(osp.join(args.out, stale))
    try:
        result = crop_dataset(coco, args.img_dir, args.out, names,
                              args.size, args.min_size)
    except InputError as err:
        return _error(str(err))
    write_meta(args.out, result['records'], names)
    print(format_summary(result, names, args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
