"""Long-tail mode: a Zipf class plan and LVIS v1 JSON files.

Class plan (train split only; val keeps uniform classes so that every
frequency group has enough val instances to measure AP_r / AP_c / AP_f):
the thing class of rank ``k`` (1-based, rank = position in
``THING_CLASSES``, so 'circle' is the head and 'ring' the tail) is put into
``max(1, round(long_tail_head / k**long_tail_exponent))`` distinct train
images, chosen at random (rarest class first, never more than
``max_objects`` planned objects per image). Images left empty get the head
class, and each planned (image, class) pair gets a second instance with
probability ``extra_instance_prob`` while the image has room.

Frequency groups follow the LVIS rule on the number of TRAIN images that
contain the class: ``image_count <= r_max`` -> 'r', ``<= c_max`` -> 'c',
else 'f', with ``(r_max, c_max) = preset.lvis_thresholds`` ((10, 100) like
LVIS for ``demo``; scaled to (2, 6) for ``tiny``'s 16 train images).

Image paths: LVIS v1 stores no usable ``file_name``; mmdet's
``LVISV1Dataset`` strips ``'http://images.cocodataset.org/'`` from
``coco_url`` and joins the rest with ``data_prefix['img']``. The generator
writes ``coco_url = 'http://images.cocodataset.org/<split>/<id>.jpg'``, so
``data_root=OUT, data_prefix=dict(img='img_dir/')`` resolves to
``OUT/img_dir/<split>/<id>.jpg``. ``file_name`` holds the same relative
path ``<split>/<id>.jpg``.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .classes import NUM_THINGS, THING_CLASSES, thing_category_id
from .coco import instance_annotations
from .masks import cut_holes, polygons
from .presets import ShapesPreset
from .scene import Scene
from .seeding import stream_rng

COCO_URL_PREFIX = 'http://images.cocodataset.org/'


def zipf_image_counts(preset: ShapesPreset) -> List[int]:
    """Target number of train images per thing class (rank = class index)."""
    counts = []
    for rank in range(1, NUM_THINGS + 1):
        target = round(preset.long_tail_head / rank**preset.long_tail_exponent)
        counts.append(int(min(max(1, target), preset.num_train)))
    return counts


def plan_long_tail(preset: ShapesPreset, seed: int) -> List[List[int]]:
    """Thing classes to place in each train image (see module docstring).

    Returns:
        ``num_train`` lists of class indices (a multiset per image; the scene
        shuffles the drawing order).
    """
    rng = stream_rng(seed, 'long_tail/plan')
    n = preset.num_train
    cap = preset.max_objects
    plan: List[List[int]] = [[] for _ in range(n)]
    load = np.zeros(n, np.int64)
    counts = zipf_image_counts(preset)
    for label in reversed(range(NUM_THINGS)):  # rarest first
        avail = np.flatnonzero(load < cap)
        size = min(counts[label], len(avail))
        for i in np.sort(rng.choice(avail, size=size, replace=False)):
            plan[i].append(label)
            load[i] += 1
    for i in range(n):
        if not plan[i]:
            plan[i].append(0)
            load[i] += 1
        for label in list(plan[i]):
            if load[i] < cap and rng.random() < preset.extra_instance_prob:
                plan[i].append(label)
                load[i] += 1
    return plan


def lvis_frequency(image_count: int, thresholds: Tuple[int, int]) -> str:
    """LVIS frequency group of a class in ``image_count`` train images."""
    r_max, c_max = thresholds
    if image_count <= r_max:
        return 'r'
    if image_count <= c_max:
        return 'c'
    return 'f'


def lvis_polygons(mask: np.ndarray) -> List[List[int]]:
    """Polygons only (LVIS): holes are opened by 1-pixel slits first, so
    the polygons cover the mask minus the slit pixels."""
    return polygons(cut_holes(mask))


def lvis_annotations(scene: Scene, image_id: int,
                     first_ann_id: int) -> List[Dict]:
    """LVIS annotations (polygon segmentation) of every object."""
    return instance_annotations(scene, image_id, first_ann_id,
                                encode_mask=lvis_polygons,
                                with_iscrowd=False)


def lvis_image_entry(image_id: int, split: str, file_name: str, height: int,
                     width: int, present_labels: Sequence[int]) -> Dict:
    """An LVIS v1 ``images`` entry.

    Annotation is exhaustive, so every class absent from the image is a
    verified negative and nothing is 'not exhaustive'.
    """
    present = {thing_category_id(label) for label in present_labels}
    negatives = [thing_category_id(label) for label in range(NUM_THINGS)
                 if thing_category_id(label) not in present]
    rel = f'{split}/{file_name}'
    return dict(id=image_id, height=height, width=width,
                coco_url=COCO_URL_PREFIX + rel, file_name=rel,
                not_exhaustive_category_ids=[],
                neg_category_ids=negatives)


def class_counts(annotations: Sequence[Dict]) -> Tuple[List[int], List[int]]:
    """Per-thing-class (image_count, instance_count) over annotations."""
    images = [set() for _ in range(NUM_THINGS)]
    instances = [0] * NUM_THINGS
    for ann in annotations:
        label = ann['category_id'] - 1
        images[label].add(ann['image_id'])
        instances[label] += 1
    return [len(s) for s in images], instances


def lvis_categories(train_annotations: Sequence[Dict],
                    thresholds: Tuple[int, int]) -> List[Dict]:
    """LVIS categories with counts and groups taken from the TRAIN split."""
    image_counts, instance_counts = class_counts(train_annotations)
    cats = []
    for label, name in enumerate(THING_CLASSES):
        cats.append({
            'id': thing_category_id(label),
            'name': name,
            'synset': f'{name}.n.01',
            'synonyms': [name],
            'def': f'a flat-coloured {name} shape',
            'frequency': lvis_frequency(image_counts[label], thresholds),
            'image_count': image_counts[label],
            'instance_count': instance_counts[label],
        })
    return cats


def lvis_json(images: List[Dict], annotations: List[Dict],
              categories: List[Dict]) -> Dict:
    """A whole LVIS v1 file."""
    return dict(info=dict(description='mmext Shapes long-tail (LVIS v1 '
                          'format)'), licenses=[], images=images,
                annotations=annotations, categories=categories)
