"""Binary-mask helpers: boxes, polygons, holes and COCO RLE (numpy + cv2).

Conventions (those of pycocotools):

* a box is ``[x, y, w, h]`` of the mask's pixel extent, so
  ``w = x_max - x_min + 1``;
* polygons are flat ``[x0, y0, x1, y1, ...]`` lists of pixel-corner
  coordinates tracing the outer pixel edges of each connected part (pixel
  ``(x, y)`` covers ``[x, x + 1] x [y, y + 1]``, as in pycocotools), so
  ``pycocotools.mask.frPyObjects`` rasterises them back to exactly the
  mask when it has no holes;
* compressed RLE is ``{'size': [h, w], 'counts': str}`` over the
  column-major mask, the same string ``pycocotools.mask.encode`` returns.
"""
from typing import Dict, List

import cv2
import numpy as np

MAX_HOLE_CUTS = 64


def mask_bbox(mask: np.ndarray) -> List[int]:
    """``[x, y, w, h]`` of the non-zero pixels (``[0, 0, 0, 0]`` if none)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return [0, 0, 0, 0]
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1),
            int(ys[-1] - ys[0] + 1)]


def _dedupe(points: np.ndarray) -> np.ndarray:
    """Drop consecutive (cyclically) repeated vertices."""
    keep = np.any(points != np.roll(points, 1, axis=0), axis=1)
    return points[keep] if keep.any() else points[:1]


def polygons(mask: np.ndarray) -> List[List[int]]:
    """Outer pixel-edge outlines of ``mask`` as COCO polygons.

    ``cv2.findContours`` returns boundary pixel *centres*, whose polygon
    loses half a pixel all round. Tracing the mask upsampled 2x instead and
    mapping upsampled index ``k`` to corner ``(k + 1) // 2`` gives the
    pixel-edge outline (left/top edges of a pixel come from even indices,
    right/bottom edges from odd ones). Holes are ignored (see
    :func:`cut_holes`).

    Returns:
        One flat int list per 8-connected part (>= 4 vertices each; an empty
        list for an empty mask).
    """
    x, y, w, h = mask_bbox(mask)
    if w == 0:
        return []
    sub = np.asarray(mask[y:y + h, x:x + w], np.uint8)
    up = np.pad(np.repeat(np.repeat(sub, 2, axis=0), 2, axis=1), 1)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for contour in contours:
        # padded index p = k + 1, so the corner (k + 1) // 2 is p // 2
        pts = contour.reshape(-1, 2) // 2 + (x, y)
        pts = _dedupe(pts)
        if len(pts) >= 3:
            polys.append(pts.reshape(-1).tolist())
    return polys


def hole_labels(mask: np.ndarray) -> np.ndarray:
    """Label the holes of ``mask``.

    A hole is a 4-connected background component that does not reach the
    image border (``cv2.findContours`` treats foreground as 8-connected and
    background as 4-connected, so this matches its hole contours).

    Returns:
        int32 (h, w) map: 0 = foreground or outside background, 1.. = holes.
    """
    padded = np.pad((mask == 0).astype(np.uint8), 1, constant_values=1)
    _, labels = cv2.connectedComponents(padded, connectivity=4)
    outside = labels[0, 0]
    labels[labels == outside] = 0
    labels[padded == 0] = 0
    return labels[1:-1, 1:-1]


def has_holes(mask: np.ndarray) -> bool:
    """Whether ``mask`` encloses any background.

    Holes lie strictly inside the mask's box (everything outside it is
    background), so only the box is searched.
    """
    x, y, w, h = mask_bbox(mask)
    return w > 0 and bool(hole_labels(mask[y:y + h, x:x + w]).any())


def cut_holes(mask: np.ndarray) -> np.ndarray:
    """Open every hole with a 1-pixel vertical slit up to the outside.

    The result has no holes, so its outer contours describe it; it differs
    from ``mask`` by the slit pixels only.

    Returns:
        A uint8 copy of ``mask`` without holes.
    """
    out = mask.astype(np.uint8).copy()
    for _ in range(MAX_HOLE_CUTS):
        holes = hole_labels(out)
        if not holes.any():
            break
        y, x = np.unravel_index(int(np.argmax(holes > 0)), holes.shape)
        y -= 1  # the top-most hole pixel's upper neighbour is foreground
        while y >= 0 and out[y, x]:
            out[y, x] = 0
            y -= 1
    return out


def _rle_counts(mask: np.ndarray) -> List[int]:
    """Run lengths over the column-major mask, starting with a 0-run."""
    flat = np.asarray(mask, bool).ravel(order='F')
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0] + runs
    return runs


def _rle_string(counts: List[int]) -> str:
    """pycocotools' ``rleToString`` (LEB128-like, delta against i-2)."""
    chars = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return ''.join(chars)


def rle_encode(mask: np.ndarray) -> Dict:
    """Compressed COCO RLE of a binary mask, as written in JSON files."""
    h, w = mask.shape
    return {'size': [int(h), int(w)], 'counts': _rle_string(_rle_counts(mask))}
