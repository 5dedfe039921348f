"""RIO's memory classes from LVIS-style category records (Chang et al.,
"Image-Level or Object-Level? A Tale of Two Resampling Strategies for
Long-Tailed Detection", ICML 2021, arXiv 2104.05702): every rare class and
the common classes seen in at most ``common_max_images`` training images
(RIO's LVIS v0.5 list: 454 rare + 252 common with image_count <= 30)."""
import json
from typing import List, Sequence


def rio_memory_classes(categories: Sequence[dict],
                       common_max_images: int = 30) -> List[int]:
    """Detector class indices that get a memory bank.

    Args:
        categories (Sequence[dict]): LVIS ``categories`` records, each with
            ``id``, ``frequency`` ('r', 'c' or 'f') and ``image_count``.
        common_max_images (int): Common classes with at most this many
            training images are banked too.

    Returns:
        list[int]: Indices in mmdet's LVIS label order (the categories
        sorted by ``id``), ascending.
    """
    missing = [
        c.get('id') for c in categories
        if not {'id', 'frequency', 'image_count'} <= set(c)
    ]
    if missing:
        raise ValueError(
            'rio_memory_classes: categories need id, frequency and '
            f'image_count (LVIS annotations); {len(missing)} lack them, '
            f'e.g. id {missing[0]}')
    ordered = sorted(categories, key=lambda c: c['id'])
    return [
        index for index, c in enumerate(ordered)
        if c['frequency'] == 'r' or (
            c['frequency'] == 'c' and c['image_count'] <= common_max_images)
    ]


def rio_memory_classes_from_file(ann_file: str,
                                 common_max_images: int = 30) -> List[int]:
    """:func:`rio_memory_classes` of an LVIS annotation JSON file."""
    with open(ann_file) as handle:
        categories = json.load(handle).get('categories')
    if not categories:
        raise ValueError(f'{ann_file}: no "categories" (an LVIS '
                         'annotation file is needed)')
    return rio_memory_classes(categories, common_max_images)
