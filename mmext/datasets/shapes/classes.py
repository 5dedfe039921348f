"""Class names, ids, palettes and category lists of the Shapes suite.

Three numbering schemes, all derived from the two name tuples below:

* COCO / panoptic / LVIS category ids: things ``1..8`` (in
  :data:`THING_CLASSES` order), stuff ``9..12`` (in :data:`STUFF_CLASSES`
  order). Instances and LVIS files use the thing ids only.
* Semantic indices (the values in ``ann_dir`` PNGs): position in
  :data:`SEMANTIC_CLASSES` = things first, then stuff, so index
  ``category_id - 1``. ``255`` is the ignore value (not used by the
  generator).
* Classification labels: position in :data:`THING_CLASSES`.
"""
from typing import Dict, List, Tuple

Color = Tuple[int, int, int]

THING_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'pentagon',
                                  'hexagon', 'star', 'cross', 'ring')
STUFF_CLASSES: Tuple[str, ...] = ('sky', 'grass', 'water', 'wall')
SEMANTIC_CLASSES: Tuple[str, ...] = THING_CLASSES + STUFF_CLASSES

IGNORE_INDEX = 255

# Display colours (RGB): one per semantic class, also used as the panoptic
# category colours. They are for visualisation only; the rendered objects
# have random colours.
THING_PALETTE: Tuple[Color, ...] = ((220, 20, 60), (0, 130, 200),
                                    (255, 225, 25), (145, 30, 180),
                                    (245, 130, 48), (70, 240, 240),
                                    (240, 50, 230), (128, 128, 0))
STUFF_PALETTE: Tuple[Color, ...] = ((135, 206, 235), (34, 139, 34),
                                    (0, 80, 160), (150, 75, 60))
SEMANTIC_PALETTE: Tuple[Color, ...] = THING_PALETTE + STUFF_PALETTE

NUM_THINGS = len(THING_CLASSES)
NUM_STUFF = len(STUFF_CLASSES)


def thing_category_id(thing_index: int) -> int:
    """COCO category id of the thing at ``thing_index`` (0-based)."""
    return thing_index + 1


def stuff_category_id(stuff_index: int) -> int:
    """Panoptic category id of the stuff class at ``stuff_index``."""
    return NUM_THINGS + stuff_index + 1


def thing_semantic_index(thing_index: int) -> int:
    """Semantic-map value of the thing at ``thing_index``."""
    return thing_index


def stuff_semantic_index(stuff_index: int) -> int:
    """Semantic-map value of the stuff class at ``stuff_index``."""
    return NUM_THINGS + stuff_index


def coco_categories() -> List[Dict]:
    """Categories of ``instances_*.json``: ids 1..8, supercategory 'shape'."""
    return [
        dict(id=thing_category_id(i), name=name, supercategory='shape')
        for i, name in enumerate(THING_CLASSES)
    ]


def panoptic_categories() -> List[Dict]:
    """Categories of ``panoptic_*.json``: things then stuff, with colours."""
    cats = [
        dict(id=thing_category_id(i), name=name, supercategory='shape',
             isthing=1, color=list(THING_PALETTE[i]))
        for i, name in enumerate(THING_CLASSES)
    ]
    cats += [
        dict(id=stuff_category_id(i), name=name, supercategory='background',
             isthing=0, color=list(STUFF_PALETTE[i]))
        for i, name in enumerate(STUFF_CLASSES)
    ]
    return cats


def det_metainfo() -> Dict:
    """``metainfo`` for mmdet's ``CocoDataset`` / ``LVISV1Dataset``."""
    return dict(classes=THING_CLASSES, palette=list(THING_PALETTE))


def seg_metainfo() -> Dict:
    """``metainfo`` for mmseg's ``BaseSegDataset`` on ``ann_dir``."""
    return dict(classes=SEMANTIC_CLASSES, palette=[list(c) for c in
                                                   SEMANTIC_PALETTE])


def panoptic_metainfo() -> Dict:
    """``metainfo`` for a COCO-panoptic style dataset (things, then stuff)."""
    return dict(classes=SEMANTIC_CLASSES, thing_classes=THING_CLASSES,
                stuff_classes=STUFF_CLASSES,
                palette=[list(c) for c in SEMANTIC_PALETTE])


def class_tables() -> Dict:
    """All class lists in one JSON-friendly dict (written to ``meta.json``)."""
    return dict(
        thing_classes=list(THING_CLASSES),
        stuff_classes=list(STUFF_CLASSES),
        semantic_classes=list(SEMANTIC_CLASSES),
        semantic_palette=[list(c) for c in SEMANTIC_PALETTE],
        thing_category_ids=[thing_category_id(i) for i in range(NUM_THINGS)],
        stuff_category_ids=[stuff_category_id(i) for i in range(NUM_STUFF)],
        ignore_index=IGNORE_INDEX,
    )
