"""Stuff layout: split a canvas into 1-3 regions with irregular boundaries.

The partition is a Voronoi diagram of random seed points whose distance
fields are perturbed by smooth noise, which bends the straight Voronoi edges
into wavy, blob-like boundaries. Each region gets a distinct stuff class.
"""
import numpy as np

from .classes import NUM_STUFF
from .textures import pixel_grid, render_texture, smooth_noise

BOUNDARY_WOBBLE = 0.35  # noise amplitude, as a fraction of the canvas side
NOISE_CELLS = 3


def partition(h: int, w: int, num_regions: int,
              rng: np.random.Generator) -> np.ndarray:
    """Label every pixel with one of ``num_regions`` irregular regions.

    Args:
        h: Height in pixels.
        w: Width in pixels.
        num_regions: Number of seed points (>= 1).
        rng: Random stream.

    Returns:
        int64 array (h, w) with values in ``[0, num_regions)``; a region may
        end up empty when its neighbours' noise swallows it.
    """
    yy, xx = pixel_grid(h, w)
    seeds = rng.uniform((0, 0), (h, w), size=(num_regions, 2))
    amp = BOUNDARY_WOBBLE * min(h, w)
    dists = np.empty((num_regions, h, w), np.float32)
    for i, (sy, sx) in enumerate(seeds):
        noise = smooth_noise(h, w, NOISE_CELLS, rng) - 0.5
        dists[i] = np.hypot(yy - sy, xx - sx) + amp * noise
    return np.argmin(dists, axis=0)


def stuff_layout(h: int, w: int, max_regions: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Choose 1..``max_regions`` distinct stuff classes and lay them out.

    Returns:
        int64 array (h, w) of stuff indices (into ``STUFF_CLASSES``).
    """
    num = int(rng.integers(1, min(max_regions, NUM_STUFF) + 1))
    classes = rng.choice(NUM_STUFF, size=num, replace=False)
    if num == 1:
        return np.full((h, w), classes[0], np.int64)
    return classes[partition(h, w, num, rng)]


def render_stuff(stuff_map: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Paint each stuff class's texture over its pixels.

    Args:
        stuff_map: (h, w) stuff indices from :func:`stuff_layout`.
        rng: Random stream.

    Returns:
        float32 (h, w, 3) RGB canvas.
    """
    h, w = stuff_map.shape
    present = np.flatnonzero(np.bincount(stuff_map.ravel(),
                                         minlength=NUM_STUFF))
    if len(present) == 1:
        return render_texture(int(present[0]), h, w, rng)
    canvas = np.zeros((h, w, 3), np.float32)
    for stuff in present:
        # texture only the region's box (the phases are random anyway)
        region = stuff_map == stuff
        ys = np.flatnonzero(region.any(axis=1))
        xs = np.flatnonzero(region.any(axis=0))
        box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        texture = render_texture(int(stuff), int(ys[-1] - ys[0] + 1),
                                 int(xs[-1] - xs[0] + 1), rng)
        np.copyto(canvas[box], texture, where=region[box][..., None])
    return canvas
