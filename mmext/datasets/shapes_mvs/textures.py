"""Solid (3-D) textures: the albedo of a surface as a function of the world
point.

Because colour depends only on the 3-D point (and the light), every view
of a point sees the same colour, which is what multi-view stereo matches.
A texture blends two contrasting colours (a bright and a dark one of
different hues) with a pattern in [0, 1]::

    pattern = (1 - w) * (0.6 * noise + 0.4 * waves) + w * checker
    t       = clip(0.5 + gain * (pattern - 0.5), 0, 1)
    albedo  = dark + t * (bright - dark)

``noise`` is two octaves of 3-D value noise (random values on a lattice of
``cell`` and ``cell / 2`` millimetres, smoothly interpolated), ``waves``
three plane sinusoids of random direction, wavelength and phase, and
``checker`` a checkerboard of ``3 * cell`` squares in x and y (ground
only). The high
``gain`` saturates part of the pattern into blocks with sharp edges.
"""
import colorsys
from dataclasses import dataclass
from typing import Tuple

import numpy as np

#: Size of the table of lattice values that integer cells hash into.
TABLE_SIZE = 4096
#: Contrast gain around the pattern's mean.
GAIN = 2.5
#: (min, max) brightness (HSV value) of the dark and the bright colour.
DARK_VALUE = (0.10, 0.30)
BRIGHT_VALUE = (0.70, 0.95)
#: Octave weights of the value noise (cell, cell / 2).
OCTAVES = ((1.0, 0.65), (0.5, 0.35))
_PRIMES = np.array([73856093, 19349663, 83492791], dtype=np.int64)


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value))


@dataclass(frozen=True, eq=False)
class SolidTexture:
    """The albedo field of one surface (see the module docstring).

    Attributes:
        dark: RGB albedo in [0, 1] where ``t = 0``.
        bright: RGB albedo in [0, 1] where ``t = 1``.
        cell: Lattice spacing of the coarse noise octave, mm.
        table: ``[TABLE_SIZE]`` random lattice values in [0, 1).
        offset: ``[3]`` random shift of the lattice, mm.
        wave_vectors: ``[3, 3]`` wave vectors, radians per mm.
        wave_phases: ``[3]`` phases, radians.
        checker: Weight ``w`` of the checkerboard.
    """

    dark: np.ndarray
    bright: np.ndarray
    cell: float
    table: np.ndarray
    offset: np.ndarray
    wave_vectors: np.ndarray
    wave_phases: np.ndarray
    checker: float = 0.0

    @classmethod
    def random(cls, rng: np.random.Generator, cell: float,
               checker: float = 0.0,
               saturation: Tuple[float, float] = (0.45, 0.9)
               ) -> 'SolidTexture':
        """Draw a texture: hues of the two colours 0.25-0.75 of the colour
        wheel apart, brightness from :data:`DARK_VALUE` and
        :data:`BRIGHT_VALUE`, wavelengths of 2-4 cells."""
        hue = rng.random()
        bright = _hsv(hue, rng.uniform(*saturation),
                      rng.uniform(*BRIGHT_VALUE))
        dark = _hsv(hue + rng.uniform(0.25, 0.75), rng.uniform(*saturation),
                    rng.uniform(*DARK_VALUE))
        directions = rng.standard_normal((3, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavelengths = rng.uniform(2.0, 4.0, size=(3, 1)) * cell
        return cls(
            dark=dark, bright=bright, cell=float(cell),
            table=rng.random(TABLE_SIZE), offset=rng.uniform(0, 1000, 3),
            wave_vectors=2 * np.pi * directions / wavelengths,
            wave_phases=rng.uniform(0, 2 * np.pi, 3), checker=checker)

    def _value_noise(self, points: np.ndarray, cell: float) -> np.ndarray:
        """Smoothly interpolated lattice values at ``points / cell``."""
        scaled = (points + self.offset) / cell
        base = np.floor(scaled)
        frac = scaled - base
        fade = frac * frac * (3 - 2 * frac)  # smoothstep
        base = base.astype(np.int64)
        # Per axis: the hashed lattice term and the weight of the lower (0)
        # and upper (1) neighbour; a corner combines one of each per axis.
        keys = [[(base[:, a] + bit) * _PRIMES[a] for bit in (0, 1)]
                for a in range(3)]
        weights = [[1 - fade[:, a], fade[:, a]] for a in range(3)]
        result = np.zeros(len(points))
        for bx in (0, 1):
            for by in (0, 1):
                key_xy = keys[0][bx] ^ keys[1][by]
                weight_xy = weights[0][bx] * weights[1][by]
                for bz in (0, 1):
                    index = (key_xy ^ keys[2][bz]) % TABLE_SIZE
                    result += weight_xy * weights[2][bz] * self.table[index]
        return result

    def pattern(self, points: np.ndarray) -> np.ndarray:
        """``t`` in [0, 1] at world points ``[N, 3]`` (mm)."""
        noise = sum(weight * self._value_noise(points, self.cell * scale)
                    for scale, weight in OCTAVES)
        waves = 0.5 + 0.5 * np.sin(points @ self.wave_vectors.T +
                                   self.wave_phases)
        value = 0.6 * noise + 0.4 * waves.mean(axis=1)
        if self.checker:
            cells = np.floor((points + self.offset) / (3 * self.cell))
            board = cells[:, :2].astype(np.int64).sum(axis=1) % 2
            value = (1 - self.checker) * value + self.checker * board
        return np.clip(0.5 + GAIN * (value - 0.5), 0.0, 1.0)

    def albedo(self, points: np.ndarray) -> np.ndarray:
        """RGB albedo ``[N, 3]`` in [0, 1] at world points ``[N, 3]``."""
        t = self.pattern(points)[:, None]
        return self.dark + t * (self.bright - self.dark)
