"""Byte-stable writers for images and JSON."""
import json
import os
from typing import Any, Optional

import cv2
import numpy as np

JPEG_QUALITY = 95


def _imwrite(path: str, array: np.ndarray, params: list) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, array, params):
        raise OSError(f'cv2.imwrite failed to write {path}')


def write_jpeg(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as JPEG (quality 95)."""
    _imwrite(path, np.ascontiguousarray(rgb[..., ::-1]),
             [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


def write_png_rgb(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG."""
    _imwrite(path, np.ascontiguousarray(rgb[..., ::-1]), [])


def write_png_gray(path: str, gray: np.ndarray) -> None:
    """Write a single-channel uint8 map as PNG (values kept exactly)."""
    if gray.dtype != np.uint8:
        raise TypeError(f'{path}: expected uint8, got {gray.dtype}')
    _imwrite(path, gray, [])


def dump_json(path: str, obj: Any, indent: Optional[int] = None) -> None:
    """Write JSON in insertion key order (byte-stable).

    Args:
        path: Output file.
        obj: JSON-serialisable object.
        indent: ``None`` writes compact JSON (annotation files); an integer
            pretty-prints (``meta.json``).
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    separators = (',', ':') if indent is None else (',', ': ')
    # json.dumps uses the C encoder (json.dump iterates in Python)
    text = json.dumps(obj, indent=indent, separators=separators)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text + '\n')
