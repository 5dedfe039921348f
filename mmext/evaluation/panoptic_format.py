"""Conversions between mmdet panoptic predictions and COCO panoptic files.

* :func:`mmdet_pred_to_segments`: mmdet 3.x's ``pred_panoptic_seg``
  (``label + instance * 1000`` per pixel, ``label == num_classes`` for
  VOID) to a COCO-style id map and segment list.
* :func:`segments_info`: ``area`` / ``bbox`` / ``iscrowd`` of each segment,
  as written in a COCO panoptic JSON.
* :func:`read_panoptic_png` / :func:`write_panoptic_png`: RGB-encoded id
  maps on disk (``id = R + 256 G + 256^2 B``); writes are atomic.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.fileio import get

from mmext.structures.panoptic import INSTANCE_OFFSET, VOID, id2rgb, rgb2id
from mmext.utils.atomic import atomic_write


def mmdet_pred_to_segments(
        pan: np.ndarray,
        num_classes: int,
        label2cat: Mapping[int, int],
        ignore_index: Optional[int] = None
) -> Tuple[np.ndarray, List[Dict[str, int]]]:
    """Convert an mmdet panoptic prediction to an id map and segments.

    Every distinct value ``label + instance * INSTANCE_OFFSET`` of ``pan``
    becomes one segment; ids are renumbered ``1..K`` in increasing order of
    the values (so a stuff segment of label 0 does not collide with VOID's
    id 0). Pixels whose label is ``num_classes`` or ``ignore_index`` become
    VOID (id 0).

    Args:
        pan (np.ndarray): (H, W) non-negative integer prediction.
        num_classes (int): Number of dataset classes (the VOID label).
        label2cat (Mapping[int, int]): Contiguous label to category id.
        ignore_index (int, optional): A second VOID label, if any.

    Returns:
        tuple: ``(ids, segments)``: int64 (H, W) ids and a list of
        ``{'id', 'category_id'}`` dicts in id order.
    """
    pan = np.asarray(pan)
    if pan.ndim != 2 or not np.issubdtype(pan.dtype, np.integer):
        raise ValueError('mmdet_pred_to_segments: expected a 2-D integer '
                         f'map, got {pan.dtype} of shape {pan.shape}')
    values, inverse = np.unique(pan.astype(np.int64), return_inverse=True)
    if len(values) and values[0] < 0:
        raise ValueError('mmdet_pred_to_segments: negative panoptic value '
                         f'{int(values[0])}')
    labels = values % INSTANCE_OFFSET
    void = labels == num_classes
    if ignore_index is not None:
        void |= labels == ignore_index
    lut = np.zeros(len(values), np.int64)
    lut[~void] = np.arange(1, int((~void).sum()) + 1)
    segments = []
    for seg_id, value, label in zip(lut[~void].tolist(),
                                    values[~void].tolist(),
                                    labels[~void].tolist()):
        if label not in label2cat:
            raise ValueError(f'mmdet_pred_to_segments: panoptic value '
                             f'{value} has label {label}, which is neither '
                             f'a class (0..{num_classes - 1}) nor VOID '
                             f'({num_classes})')
        segments.append(dict(id=seg_id, category_id=int(label2cat[label])))
    return lut[inverse.reshape(pan.shape)], segments


def segments_info(ids: np.ndarray,
                  segments: Sequence[Mapping[str, Any]]) -> List[Dict]:
    """COCO panoptic ``segments_info``: id, category, area, bbox, iscrowd.

    Args:
        ids (np.ndarray): (H, W) segment ids.
        segments (Sequence[Mapping]): ``{'id', 'category_id'}`` dicts.

    Returns:
        list[dict]: One dict per segment; ``bbox`` is ``[x, y, w, h]`` of
        its pixels (``[0, 0, 0, 0]`` if it has none).
    """
    out = []
    for seg in segments:
        mask = ids == seg['id']
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        bbox = [0, 0, 0, 0] if len(rows) == 0 else [
            int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
            int(rows[-1] - rows[0] + 1)
        ]
        out.append(dict(id=int(seg['id']),
                        category_id=int(seg['category_id']),
                        area=int(mask.sum()), bbox=bbox,
                        iscrowd=int(seg.get('iscrowd', 0))))
    return out


def read_panoptic_png(path: str,
                      backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an RGB-encoded panoptic PNG as int64 segment ids (H, W)."""
    img = mmcv.imfrombytes(get(path, backend_args=backend_args),
                           flag='color', channel_order='rgb')
    if img is None:
        raise ValueError(f'cannot decode the panoptic PNG {path}')
    return rgb2id(img)


def write_panoptic_png(path: str, ids: np.ndarray) -> None:
    """Write segment ids as an RGB-encoded PNG, atomically."""
    bgr = np.ascontiguousarray(id2rgb(ids)[..., ::-1])

    def _write(tmp: str) -> None:
        if not cv2.imwrite(tmp, bgr):
            raise OSError(f'cv2.imwrite failed to write {path}')

    atomic_write(path, _write, suffix='.png')


__all__ = [
    'VOID', 'INSTANCE_OFFSET', 'mmdet_pred_to_segments', 'segments_info',
    'read_panoptic_png', 'write_panoptic_png'
]
