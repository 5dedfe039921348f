"""COCO instances JSON (``annotations/instances_{split}.json``).

Each visible object mask becomes one annotation: ``bbox`` and ``area`` are
the exact extent and pixel count of the visible mask; ``segmentation`` is a
polygon list from ``cv2.findContours`` when the mask has no holes, else a
compressed RLE of the exact mask (rings, or an object with a smaller object
drawn inside it). Both forms are read by pycocotools and by mmdet's
``LoadAnnotations(poly2mask=True)``.
"""
from typing import Dict, List, Union

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


def instance_annotations(scene: Scene, image_id: int,
                         first_ann_id: int) -> List[Dict]:
    """COCO annotations of every object in ``scene``.

    Args:
        scene: The rendered scene.
        image_id: Its image id.
        first_ann_id: Id given to the first annotation; the rest follow.
    """
    anns = []
    for i, pose in enumerate(scene.objects):
        mask = scene.visible_mask(i)
        anns.append(dict(
            id=first_ann_id + i, image_id=image_id,
            category_id=thing_category_id(pose.label),
            bbox=mask_bbox(mask), area=int(np.count_nonzero(mask)),
            segmentation=coco_segmentation(mask), iscrowd=0))
    return anns


def coco_json(images: List[Dict], annotations: List[Dict]) -> Dict:
    """The whole instances file."""
    return dict(info=INFO, licenses=[], images=images,
                annotations=annotations, categories=coco_categories())
