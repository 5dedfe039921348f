"""Class-specific stuff textures.

Each stuff class has its own pattern, so a segmenter can tell them apart by
texture rather than colour alone; colours, phases and contrasts are
jittered per region:

=======  =============================================================
class    pattern
=======  =============================================================
sky      smooth low-frequency noise ("clouds"), light blue to white
grass    straight stripes at about 60 degrees, period 4.5-6.5 px, green
water    horizontal waves (period 9-13 px, wavy), blue
wall     bricks (rows 7-9 px, bricks twice as wide, 1 px mortar), red
=======  =============================================================

All textures carry a little per-pixel grain; thing objects are flat, which
is one more cue separating them from stuff.
"""
from functools import lru_cache
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

from .classes import STUFF_CLASSES

Colors = Tuple[Tuple[float, float, float], Tuple[float, float, float]]

# (dark, light) base colours per class, RGB.
BASE_COLORS: Dict[str, Colors] = {
    'sky': ((140, 185, 235), (235, 240, 248)),
    'grass': ((30, 95, 30), (115, 185, 75)),
    'water': ((20, 70, 140), (90, 150, 210)),
    'wall': ((150, 65, 45), (210, 200, 185)),
}
COLOR_JITTER = 20.0
BRIGHTNESS_RANGE = (0.85, 1.15)
GRAIN_STD = 4.0


@lru_cache(maxsize=4)
def _square_grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def pixel_grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    """Read-only float32 ``(yy, xx)`` pixel coordinate grids of (h, w)."""
    size = 1 << max(int(h) - 1, int(w) - 1, 1).bit_length()
    yy, xx = _square_grid(size)
    return yy[:h, :w], xx[:h, :w]


def smooth_noise(h: int, w: int, cells: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in [0, 1] with about ``cells`` bumps per side."""
    coarse = rng.random((cells + 1, cells + 1)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(field, 0.0, 1.0)


def _sky(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    amp = rng.uniform(0.5, 0.9)
    return smooth_noise(h, w, 3, rng) * amp


def _grass(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = pixel_grid(h, w)
    theta = np.deg2rad(60.0 + rng.uniform(-10.0, 10.0))
    period = rng.uniform(4.5, 6.5)
    phase = rng.uniform(0.0, 2 * np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    return 0.5 + 0.5 * np.sin(2 * np.pi * proj / period + phase)


def _water(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = pixel_grid(h, w)
    period = rng.uniform(9.0, 13.0)
    wave_amp = rng.uniform(1.0, 2.0)
    wave_len = rng.uniform(20.0, 40.0)
    phase, wave_phase = rng.uniform(0.0, 2 * np.pi, size=2)
    wobble = wave_amp * np.sin(2 * np.pi * xx / wave_len + wave_phase)
    return 0.5 + 0.5 * np.sin(2 * np.pi * yy / period + wobble + phase)


def _wall(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = pixel_grid(h, w)
    row_h = rng.uniform(7.0, 9.0)
    brick_w = 2.0 * row_h
    oy, ox = rng.uniform(0.0, brick_w, size=2)
    y = yy + oy
    row = np.floor(y / row_h)
    x = xx + ox + (row % 2) * (brick_w / 2)
    mortar = (np.mod(y, row_h) < 1.0) | (np.mod(x, brick_w) < 1.0)
    return mortar.astype(np.float32)


PATTERNS: Dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    'sky': _sky,
    'grass': _grass,
    'water': _water,
    'wall': _wall,
}
assert tuple(PATTERNS) == STUFF_CLASSES, 'one pattern per stuff class'


def _jittered_colors(name: str,
                     rng: np.random.Generator) -> Tuple[np.ndarray, ...]:
    dark, light = (np.asarray(c, np.float64) for c in BASE_COLORS[name])
    shift = rng.uniform(-COLOR_JITTER, COLOR_JITTER, size=3)
    gain = rng.uniform(*BRIGHTNESS_RANGE)
    return (((dark + shift) * gain).astype(np.float32),
            ((light + shift) * gain).astype(np.float32))


def render_texture(stuff_index: int, h: int, w: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Render the texture of one stuff class over a whole ``h x w`` canvas.

    Args:
        stuff_index: Index into :data:`~.classes.STUFF_CLASSES`.
        h: Height in pixels.
        w: Width in pixels.
        rng: Random stream (colour jitter, phase, frequency, grain).

    Returns:
        float32 array of shape (h, w, 3), RGB, roughly in [0, 255].
    """
    name = STUFF_CLASSES[stuff_index]
    dark, light = _jittered_colors(name, rng)
    pattern = PATTERNS[name](h, w, rng).astype(np.float32)[..., None]
    image = dark + (light - dark) * pattern
    image += GRAIN_STD * rng.standard_normal((h, w, 1), dtype=np.float32)
    return image
