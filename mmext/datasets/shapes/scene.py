"""Procedural scenes: textured stuff regions with occluding thing objects.

A scene is built in three steps from one random stream:

1. :func:`~.regions.stuff_layout` splits the canvas into 1-3 stuff regions
   and :func:`~.regions.render_stuff` paints their textures;
2. objects are placed one after the other, each on top of the earlier ones.
   A placement that would leave an earlier object with less than
   ``min_visible_frac`` of its full area (or fewer than ``min_visible_px``
   pixels) visible is re-drawn, up to ``placement_tries`` times, after which
   the object is skipped. Hence every object in a scene satisfies the
   visibility rule and nothing is painted that is not annotated;
3. each accepted object is painted at once with a flat random colour
   (class = shape, never colour), re-drawn up to ``COLOR_TRIES`` times until
   it differs from the mean colour it covers by at least ``MIN_CONTRAST``
   (RGB distance), so no object is invisible against its background.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .classes import NUM_THINGS
from .presets import ShapesPreset
from .regions import render_stuff, stuff_layout
from .things import ThingPose, random_pose, rasterize

CROP_MAX_REGIONS = 2
CROP_CENTER_JITTER = 0.08  # fraction of the crop side
MIN_CONTRAST = 80.0  # RGB distance from the mean colour under the object
COLOR_TRIES = 16


@dataclass
class Scene:
    """One rendered scene and its exact per-pixel ground truth.

    Attributes:
        image: uint8 (h, w, 3) RGB image.
        stuff_map: int64 (h, w) stuff index of every pixel (also under
            objects).
        object_map: int32 (h, w): 0 where stuff is visible, ``i + 1`` where
            ``objects[i]`` is visible.
        objects: Poses of the placed objects, in drawing order.
        full_areas: Unoccluded pixel area of each object.
    """

    image: np.ndarray
    stuff_map: np.ndarray
    object_map: np.ndarray
    objects: List[ThingPose]
    full_areas: List[int]

    def visible_mask(self, i: int) -> np.ndarray:
        """Boolean mask of the visible pixels of ``objects[i]``."""
        return self.object_map == i + 1

    def visible_areas(self) -> np.ndarray:
        """Visible pixel count of every object."""
        counts = np.bincount(self.object_map.ravel(),
                             minlength=len(self.objects) + 1)
        return counts[1:]


def _placement_ok(object_map: np.ndarray, new_mask: np.ndarray,
                  full_areas: Sequence[int], preset: ShapesPreset) -> bool:
    """Whether ``new_mask`` on top keeps every earlier object visible."""
    new_area = int(np.count_nonzero(new_mask))
    if new_area < preset.min_visible_px:
        return False
    if not full_areas:
        return True
    covered = object_map[new_mask]
    lost = np.bincount(covered, minlength=len(full_areas) + 1)[1:]
    visible = np.bincount(object_map.ravel(),
                          minlength=len(full_areas) + 1)[1:] - lost
    need = np.maximum(preset.min_visible_frac * np.asarray(full_areas),
                      preset.min_visible_px)
    return bool(np.all(visible >= need))


def pick_color(canvas: np.ndarray, mask: np.ndarray,
               rng: np.random.Generator) -> Tuple[int, int, int]:
    """A random RGB colour that stands out from ``canvas`` under ``mask``.

    Draws up to ``COLOR_TRIES`` uniform colours and returns the first at RGB
    distance >= ``MIN_CONTRAST`` from the mean covered colour (else the
    farthest one drawn).
    """
    background = canvas[mask].mean(axis=0)
    best, best_dist = None, -1.0
    for _ in range(COLOR_TRIES):
        color = rng.integers(0, 256, size=3)
        dist = float(np.linalg.norm(color - background))
        if dist > best_dist:
            best, best_dist = color, dist
        if dist >= MIN_CONTRAST:
            break
    return tuple(int(v) for v in best)


def paint_object(canvas: np.ndarray, mask: np.ndarray, pose: ThingPose,
                 rng: np.random.Generator) -> None:
    """Choose ``pose.color`` against the background and paint ``mask``."""
    pose.color = pick_color(canvas, mask, rng)
    canvas[mask] = pose.color


def place_objects(labels: Sequence[int], canvas: np.ndarray,
                  preset: ShapesPreset, rng: np.random.Generator):
    """Place and paint objects of the given classes (visibility rule).

    Args:
        labels: Thing classes in drawing order.
        canvas: float32 (h, w, 3) stuff canvas, painted in place.
        preset: Sizes and the visibility rule.
        rng: Random stream.

    Returns:
        ``(object_map, poses, full_areas)`` as in :class:`Scene`.
    """
    h, w = canvas.shape[:2]
    object_map = np.zeros((h, w), np.int32)
    poses: List[ThingPose] = []
    full_areas: List[int] = []
    size_range = (preset.min_object_size, preset.max_object_size)
    for label in labels:
        for _ in range(preset.placement_tries):
            pose = random_pose(int(label), h, w, size_range, rng)
            mask = rasterize(pose, h, w).astype(bool)
            if _placement_ok(object_map, mask, full_areas, preset):
                paint_object(canvas, mask, pose, rng)
                poses.append(pose)
                full_areas.append(int(np.count_nonzero(mask)))
                object_map[mask] = len(poses)
                break
    return object_map, poses, full_areas


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """Round and clip a float canvas to a uint8 RGB image."""
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def random_labels(preset: ShapesPreset, rng: np.random.Generator,
                  index: int) -> np.ndarray:
    """Uniform mode: ``min_objects..max_objects`` thing classes.

    One object has class ``index % NUM_THINGS`` (so every class occurs in
    any split of at least ``NUM_THINGS`` scenes), the others are uniform;
    the drawing order is shuffled.
    """
    num = int(rng.integers(preset.min_objects, preset.max_objects + 1))
    labels = rng.integers(0, NUM_THINGS, size=num)
    labels[0] = index % NUM_THINGS
    return rng.permutation(labels)


def render_scene(preset: ShapesPreset, rng: np.random.Generator,
                 labels: Optional[Sequence[int]] = None,
                 index: int = 0) -> Scene:
    """Render one scene.

    Args:
        preset: Sizes and counts.
        rng: The scene's own random stream.
        labels: Thing classes to place (in drawing order); ``None`` draws
            them with :func:`random_labels`.
        index: The scene's index in its split (used when ``labels`` is
            ``None``).

    Returns:
        The :class:`Scene`.
    """
    size = preset.image_size
    stuff_map = stuff_layout(size, size, preset.max_stuff_regions, rng)
    canvas = render_stuff(stuff_map, rng)
    if labels is None:
        labels = random_labels(preset, rng, index)
    object_map, poses, full_areas = place_objects(labels, canvas, preset, rng)
    return Scene(to_uint8(canvas), stuff_map, object_map, poses, full_areas)


def render_crop(preset: ShapesPreset, label: int,
                rng: np.random.Generator) -> np.ndarray:
    """A classification crop: one object of ``label``, roughly centred.

    The object's diameter is ``crop_object_frac`` of the crop side and its
    centre is jittered by up to 8% of the side (kept inside the crop); the
    background has 1-2 stuff regions.

    Returns:
        uint8 (crop_size, crop_size, 3) RGB image.
    """
    size = preset.crop_size
    stuff_map = stuff_layout(size, size, CROP_MAX_REGIONS, rng)
    canvas = render_stuff(stuff_map, rng)
    diam = rng.uniform(*preset.crop_object_frac) * size
    pose = random_pose(label, size, size, (diam, diam), rng)
    r = pose.radius
    centre = (size - 1) / 2
    jitter = rng.uniform(-CROP_CENTER_JITTER, CROP_CENTER_JITTER, 2) * size
    pose.cx = float(np.clip(centre + jitter[0], r, size - 1 - r))
    pose.cy = float(np.clip(centre + jitter[1], r, size - 1 - r))
    paint_object(canvas, rasterize(pose, size, size).astype(bool), pose, rng)
    return to_uint8(canvas)
