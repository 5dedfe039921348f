"""Geometry of the thing classes and their rasterisation.

Every thing is a list of ``(polygon, value)`` pairs in unit coordinates (the
shape's circumscribed circle has radius 1): polygons are filled in order
with ``value`` (1 = inside, 0 = cut out), which lets the ring have a hole.
Objects are rotated, scaled and translated, then filled with
``cv2.fillPoly`` at 1/16 px precision, without anti-aliasing, so the mask is
exactly the set of pixels painted in the image.
"""
from dataclasses import dataclass
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .classes import THING_CLASSES

Part = Tuple[np.ndarray, int]
SHIFT = 4  # fixed-point bits for cv2.fillPoly
CIRCLE_VERTICES = 48
STAR_INNER = 0.45
CROSS_HALF_WIDTH = 0.3
RING_INNER = 0.55


def regular_polygon(n: int, radius: float = 1.0) -> np.ndarray:
    """``n`` vertices on a circle of ``radius``, first one at angle 0."""
    angles = np.arange(n) * (2 * np.pi / n)
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def star_polygon(points: int = 5, inner: float = STAR_INNER) -> np.ndarray:
    """A star with ``points`` tips, inner vertices at radius ``inner``."""
    verts = regular_polygon(2 * points)
    verts[1::2] *= inner
    return verts


def cross_polygon(half_width: float = CROSS_HALF_WIDTH) -> np.ndarray:
    """A plus sign whose arm tips' corners lie on the unit circle."""
    a = half_width
    verts = np.array([(a, 1), (a, a), (1, a), (1, -a), (a, -a), (a, -1),
                      (-a, -1), (-a, -a), (-1, -a), (-1, a), (-a, a), (-a, 1)],
                     np.float64)
    return verts / np.hypot(1.0, a)


def _unit_shapes() -> Dict[str, List[Part]]:
    circle = regular_polygon(CIRCLE_VERTICES)
    return {
        'circle': [(circle, 1)],
        'square': [(regular_polygon(4), 1)],
        'triangle': [(regular_polygon(3), 1)],
        'pentagon': [(regular_polygon(5), 1)],
        'hexagon': [(regular_polygon(6), 1)],
        'star': [(star_polygon(), 1)],
        'cross': [(cross_polygon(), 1)],
        'ring': [(circle, 1), (circle * RING_INNER, 0)],
    }


UNIT_SHAPES: Dict[str, List[Part]] = _unit_shapes()
assert tuple(UNIT_SHAPES) == THING_CLASSES, 'one geometry per thing class'


@dataclass
class ThingPose:
    """Where and how big one object is drawn.

    Attributes:
        label: Index into ``THING_CLASSES``.
        cx: Centre x in pixels (continuous coordinates, pixel centres at
            integers).
        cy: Centre y in pixels.
        radius: Circumscribed radius in pixels.
        angle: Rotation in radians.
        color: RGB fill colour (chosen against the background when the
            object is painted, see :func:`~.scene.pick_color`).
    """

    label: int
    cx: float
    cy: float
    radius: float
    angle: float
    color: Tuple[int, int, int] = (0, 0, 0)


def transform(verts: np.ndarray, pose: ThingPose) -> np.ndarray:
    """Rotate, scale and translate unit vertices; returns (N, 2) xy."""
    c, s = np.cos(pose.angle), np.sin(pose.angle)
    rot = np.array([[c, -s], [s, c]])
    return verts @ rot.T * pose.radius + (pose.cx, pose.cy)


def rasterize(pose: ThingPose, h: int, w: int) -> np.ndarray:
    """Binary uint8 (h, w) mask of one object's full (unoccluded) area."""
    mask = np.zeros((h, w), np.uint8)
    for verts, value in UNIT_SHAPES[THING_CLASSES[pose.label]]:
        pts = np.round(transform(verts, pose) * (1 << SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [pts], value, lineType=cv2.LINE_8, shift=SHIFT)
    return mask


def random_pose(label: int, h: int, w: int, size_range: Tuple[float, float],
                rng: np.random.Generator) -> ThingPose:
    """A random pose (no colour yet) of ``label`` fully inside the canvas.

    Args:
        label: Thing class index.
        h: Canvas height.
        w: Canvas width.
        size_range: (min, max) diameter in pixels (clipped to the canvas).
        rng: Random stream.
    """
    max_diam = min(size_range[1], min(h, w) - 2)
    diam = rng.uniform(min(size_range[0], max_diam), max_diam)
    r = diam / 2
    cx = rng.uniform(r, w - 1 - r)
    cy = rng.uniform(r, h - 1 - r)
    angle = rng.uniform(0.0, 2 * np.pi)
    return ThingPose(label, cx, cy, r, angle)
