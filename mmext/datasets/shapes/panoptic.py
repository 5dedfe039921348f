"""COCO panoptic format (``annotations/panoptic_{split}.json`` + PNGs).

Every pixel belongs to exactly one segment:

* one segment per stuff class visible in the scene (all its regions
  together), id ``category_id * 1000``;
* one segment per object, id ``category_id * 1000 + k`` with ``k = 1, 2,
  ...`` counting the objects of that class in drawing order.

The PNG stores ``id = R + 256 * G + 256**2 * B``.
"""
from typing import Dict, List, Tuple

import numpy as np

from .classes import (panoptic_categories, stuff_category_id,
                      thing_category_id)
from .masks import mask_bbox
from .scene import Scene

SEGMENT_ID_STRIDE = 1000


def _segment(seg_id: int, category_id: int, mask: np.ndarray) -> Dict:
    return dict(id=seg_id, category_id=category_id,
                area=int(np.count_nonzero(mask)), bbox=mask_bbox(mask),
                iscrowd=0)


def panoptic_segments(scene: Scene) -> Tuple[np.ndarray, List[Dict]]:
    """Segment id map and ``segments_info`` of one scene.

    Returns:
        ``(id_map, segments_info)``: int32 (h, w) segment ids (never 0) and
        one dict per segment (stuff first, then objects in drawing order).
    """
    id_map = np.zeros(scene.object_map.shape, np.int32)
    segments = []
    stuff_visible = scene.object_map == 0
    for stuff in np.flatnonzero(np.bincount(scene.stuff_map[stuff_visible])):
        mask = stuff_visible & (scene.stuff_map == stuff)
        cat = stuff_category_id(int(stuff))
        id_map[mask] = cat * SEGMENT_ID_STRIDE
        segments.append(_segment(cat * SEGMENT_ID_STRIDE, cat, mask))
    seen: Dict[int, int] = {}
    for i, pose in enumerate(scene.objects):
        cat = thing_category_id(pose.label)
        seen[cat] = seen.get(cat, 0) + 1
        seg_id = cat * SEGMENT_ID_STRIDE + seen[cat]
        mask = scene.visible_mask(i)
        id_map[mask] = seg_id
        segments.append(_segment(seg_id, cat, mask))
    return id_map, segments


def panoptic_annotation(image_id: int, file_name: str,
                        segments_info: List[Dict]) -> Dict:
    """One entry of the ``annotations`` list."""
    return dict(image_id=image_id, file_name=file_name,
                segments_info=segments_info)


def panoptic_json(images: List[Dict], annotations: List[Dict]) -> Dict:
    """The whole panoptic file."""
    return dict(images=images, annotations=annotations,
                categories=panoptic_categories())
