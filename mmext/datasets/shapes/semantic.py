"""mmseg semantic maps (``ann_dir/{split}/{id:06d}.png``).

The value of a pixel is the position of its class in
:data:`~.classes.SEMANTIC_CLASSES` (things 0-7, then stuff 8-11); every
pixel has a class, so the ignore value 255 does not occur.
"""
import numpy as np

from .classes import stuff_semantic_index, thing_semantic_index
from .scene import Scene


def semantic_map(scene: Scene) -> np.ndarray:
    """uint8 (h, w) semantic class index of every pixel of ``scene``."""
    thing_lut = np.array(
        [0] + [thing_semantic_index(p.label) for p in scene.objects],
        np.int64)
    stuff = stuff_semantic_index(0) + scene.stuff_map
    sem = np.where(scene.object_map > 0, thing_lut[scene.object_map], stuff)
    return sem.astype(np.uint8)
