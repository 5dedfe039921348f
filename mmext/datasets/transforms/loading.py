"""Panoptic annotation loading without panopticapi."""
from typing import Optional

import mmcv
import numpy as np
from mmdet.datasets.transforms.loading import \
    LoadAnnotations as MMDetLoadAnnotations
from mmdet.structures.mask import BitmapMasks
from mmengine.fileio import get

from mmext.registry import TRANSFORMS
from mmext.structures.panoptic import rgb2id

IGNORE_LABEL = 255


@TRANSFORMS.register_module()
class LoadPanopticAnnotations(MMDetLoadAnnotations):
    """mmdet's ``LoadPanopticAnnotations`` without the panopticapi import.

    Reads the COCO panoptic PNG of ``seg_map_path`` (``id = R + 256 G +
    256^2 B``) and, for the ``segments_info`` of mmdet's
    ``CocoPanopticDataset`` (``id``, contiguous ``category``, ``is_thing``),
    fills the same keys as mmdet:

    - ``gt_bboxes`` (``HorizontalBoxes``), ``gt_ignore_flags`` (bool) and
      ``gt_bboxes_labels`` (int64) from ``instances`` (``with_bbox``,
      ``with_label``), exactly as mmdet's ``LoadAnnotations``;
    - ``gt_masks``: :class:`BitmapMasks` of the segments with ``is_thing``
      (non-crowd things), in ``segments_info`` order (``with_mask``);
    - ``gt_seg_map``: uint8 (H, W) contiguous labels of every listed
      segment, things and stuff (crowd included), 255 elsewhere
      (``with_seg``).

    Nothing is loaded for masks and the map when ``seg_map_path`` is None
    (inference without ground truth). Unlike mmdet, the masks take their
    size from the PNG rather than ``ori_shape`` (the two agree for
    consistent data), and ``gt_seg_map`` is uint8 as mmdet documents
    (mmdet's is int32).

    Args:
        with_bbox (bool): Load boxes and ignore flags. Defaults to True.
        with_label (bool): Load box labels. Defaults to True.
        with_mask (bool): Load thing masks. Defaults to True.
        with_seg (bool): Load the semantic map. Defaults to True.
        box_type (str): Box type of ``gt_bboxes``. Defaults to ``'hbox'``.
        imdecode_backend (str): ``mmcv.imfrombytes`` backend. Defaults to
            ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 with_bbox: bool = True,
                 with_label: bool = True,
                 with_mask: bool = True,
                 with_seg: bool = True,
                 box_type: str = 'hbox',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            with_bbox=with_bbox,
            with_label=with_label,
            with_mask=with_mask,
            with_seg=with_seg,
            with_keypoints=False,
            box_type=box_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)

    def _load_masks_and_semantic_segs(self, results: dict) -> None:
        """Thing masks and the semantic map from the panoptic PNG."""
        path = results.get('seg_map_path')
        if path is None:
            return
        img = mmcv.imfrombytes(get(path, backend_args=self.backend_args),
                               flag='color', channel_order='rgb',
                               backend=self.imdecode_backend)
        if img is None:
            raise ValueError(f'LoadPanopticAnnotations: cannot decode {path}')
        pan = rgb2id(img)
        gt_seg = np.full(pan.shape, IGNORE_LABEL, np.uint8)
        masks = []
        for seg in results['segments_info']:
            label = int(seg['category'])
            if not 0 <= label < IGNORE_LABEL:
                raise ValueError(f'LoadPanopticAnnotations: segment '
                                 f"{seg['id']} of {path} has label {label}; "
                                 f'labels must lie in [0, {IGNORE_LABEL})')
            mask = pan == seg['id']
            gt_seg[mask] = label
            if seg.get('is_thing'):
                masks.append(mask.astype(np.uint8))
        if self.with_mask:
            results['gt_masks'] = BitmapMasks(masks, *pan.shape)
        if self.with_seg:
            results['gt_seg_map'] = gt_seg

    def transform(self, results: dict) -> dict:
        """Load the annotations selected by the ``with_*`` options.

        Args:
            results (dict): A data info of mmdet's ``CocoPanopticDataset``.

        Returns:
            dict: ``results`` with the loaded keys added.
        """
        if self.with_bbox:
            self._load_bboxes(results)
        if self.with_label:
            self._load_labels(results)
        if self.with_mask or self.with_seg:
            self._load_masks_and_semantic_segs(results)
        return results
