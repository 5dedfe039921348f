"""COCO instances JSON (``annotations/instances_{split}.json``).

Each visible object mask becomes one annotation: ``bbox`` and ``area`` are
the exact extent and pixel count of the visible mask; ``segmentation`` is a
polygon list from ``cv2.findContours`` when the mask has no holes, else a
compressed RLE of the exact mask (rings, or an object with a smaller object
drawn inside it). Both forms are read by pycocotools and by mmdet's
``LoadAnnotations(poly2mask=True)``.
"""
from typing import Callable, Dict, List, Union

import numpy as np

from .classes import coco_categories, thing_category_id
from .masks import has_holes, mask_bbox, polygons, rle_encode
from .presets import GENERATOR_NAME, GENERATOR_VERSION
from .scene import Scene

Segmentation = Union[List[List[int]], Dict]

INFO = dict(description='mmext Shapes (procedural)',
            version=GENERATOR_VERSION, contributor=GENERATOR_NAME)


def image_entry(image_id: int, file_name: str, height: int,
                width: int) -> Dict:
    """A COCO ``images`` entry."""
    return dict(id=image_id, file_name=file_name, height=height, width=width)


def coco_segmentation(mask: np.ndarray) -> Segmentation:
    """Polygons if ``mask`` has no holes and yields any, else RLE."""
    if not has_holes(mask):
        polys = polygons(mask)
        if polys:
            return polys
    return rle_encode(mask)


def instance_annotations(
        scene: Scene,
        image_id: int,
        first_ann_id: int,
        encode_mask: Callable[[np.ndarray], Union[List, Dict]] = None,
        with_iscrowd: bool = True) -> List[Dict]:
    """COCO-style annotations of every object in ``scene``.

    Args:
        scene: The rendered scene.
        image_id: Its image id.
        first_ann_id: Id given to the first annotation; the rest follow.
        encode_mask: Turns a visible mask (HxW bool) into the
            ``segmentation`` field; COCO's polygons-or-RLE by default
            (LVIS passes its polygons-only encoder).
        with_iscrowd: Add COCO's ``iscrowd=0`` (LVIS has no such field).
    """
    encode_mask = encode_mask or coco_segmentation
    anns = []
    for i, pose in enumerate(scene.objects):
        mask = scene.visible_mask(i)
        ann = dict(
            id=first_ann_id + i, image_id=image_id,
            category_id=thing_category_id(pose.label),
            bbox=mask_bbox(mask), area=int(np.count_nonzero(mask)),
            segmentation=encode_mask(mask))
        if with_iscrowd:
            ann['iscrowd'] = 0
        anns.append(ann)
    return anns


def coco_json(images: List[Dict], annotations: List[Dict]) -> Dict:
    """The whole instances file."""
    return dict(info=INFO, licenses=[], images=images,
                annotations=annotations, categories=coco_categories())
