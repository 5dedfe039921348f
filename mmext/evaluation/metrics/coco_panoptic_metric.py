"""COCO panoptic quality (PQ / SQ / RQ) for mmdet 3.x, without panopticapi.

mmdet's ``CocoPanopticMetric`` refuses to start without panopticapi, which
is not on PyPI. This metric takes the same data samples and reports the same
keys; PQ follows Kirillov et al., "Panoptic Segmentation", CVPR 2019
(arXiv 1801.00868) with the COCO rules of
:mod:`mmext.evaluation.panoptic_quality`.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable

from mmext.registry import METRICS
from mmext.utils.atomic import atomic_write
from ..panoptic_format import (mmdet_pred_to_segments, read_panoptic_png,
                               segments_info, write_panoptic_png)
from ..panoptic_quality import (category_table, merge_pq_stats,
                                sample_pq_stats, summarize_pq)

_KEYS = (('PQ', 'All', 'pq'), ('SQ', 'All', 'sq'), ('RQ', 'All', 'rq'),
         ('PQ_th', 'Things', 'pq'), ('SQ_th', 'Things', 'sq'),
         ('RQ_th', 'Things', 'rq'), ('PQ_st', 'Stuff', 'pq'),
         ('SQ_st', 'Stuff', 'sq'), ('RQ_st', 'Stuff', 'rq'))


def _field(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for dicts and mmengine data elements alike."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


@METRICS.register_module()
class CocoPanopticMetric(BaseMetric):
    """PQ, SQ and RQ (All / Things / Stuff, in percent) on COCO panoptic.

    A drop-in for mmdet's ``CocoPanopticMetric`` that needs no panopticapi.
    Each data sample carries ``img_id`` and ``pred_panoptic_seg.sem_seg``
    of shape (1, H, W) with ``label + instance * 1000`` per pixel (mmdet's
    ``INSTANCE_OFFSET``) and ``label == len(classes)`` (or the element's
    ``ignore_index``) for VOID. Ground truth comes from the COCO panoptic
    ``ann_file`` (segments, crowd flags, categories) and the PNGs in
    ``seg_prefix`` named by each annotation's ``file_name``.

    Contiguous labels map to category ids by name: label ``i`` is the
    category named ``dataset_meta['classes'][i]`` (things then stuff, as
    mmdet's panoptic datasets order them); without ``dataset_meta`` the
    annotation file's category order is used. Averages run over all
    categories of ``ann_file`` that occur, as in panopticapi.

    ``process`` reduces every image to per-category ``[tp, fp, fn,
    iou_sum]`` (and, with ``outfile_prefix``, a short ``segments_info``
    list), so gathering results across ranks is cheap and
    ``compute_metrics`` only sums them.

    Args:
        ann_file (str): COCO panoptic JSON (``images``, ``annotations``,
            ``categories``). Unlike mmdet, required: ground truth converted
            from the dataset is not supported.
        seg_prefix (str, optional): Folder of ground-truth PNGs. Required
            unless ``format_only``.
        classwise (bool): Also log a per-category table. Defaults to False.
        format_only (bool): Only write ``outfile_prefix`` files; no
            evaluation, no ground truth PNGs read. Defaults to False.
        outfile_prefix (str, optional): Write predictions in COCO panoptic
            format: ``{outfile_prefix}.panoptic/{file_name}`` PNGs (written
            by each rank in ``process``) and
            ``{outfile_prefix}.panoptic.json`` (rank 0). Defaults to None.
        nproc (int): Accepted for config compatibility with mmdet; unused.
        backend_args (dict, optional): mmengine file backend arguments.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Key prefix. Defaults to
            ``'coco_panoptic'``.
    """

    default_prefix: Optional[str] = 'coco_panoptic'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 seg_prefix: Optional[str] = None,
                 classwise: bool = False,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 nproc: int = 32,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not ann_file:
            raise ValueError('CocoPanopticMetric: ann_file is required (the '
                             'COCO panoptic JSON of the evaluated split); '
                             'ground truth converted from the dataset is '
                             'not supported')
        if format_only and outfile_prefix is None:
            raise ValueError('CocoPanopticMetric: format_only=True needs '
                             'outfile_prefix (where the results go)')
        if not format_only and not seg_prefix:
            raise ValueError('CocoPanopticMetric: seg_prefix is required '
                             '(the folder of ground-truth panoptic PNGs) '
                             'unless format_only=True')
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.seg_prefix = seg_prefix
        self.backend_args = backend_args
        with get_local_path(ann_file, backend_args=backend_args) as path:
            with open(path, encoding='utf-8') as f:
                coco = json.load(f)
        if 'categories' not in coco:
            raise ValueError(f'CocoPanopticMetric: {ann_file} has no '
                             "'categories'")
        self.categories: List[dict] = coco['categories']
        self._cat_table = category_table(self.categories)
        self._gt: Dict[int, dict] = {
            int(ann['image_id']): ann
            for ann in coco.get('annotations', [])
        }

    @property
    def seg_out_dir(self) -> Optional[str]:
        """Folder of the predicted PNGs (None without outfile_prefix)."""
        if self.outfile_prefix is None:
            return None
        return f'{self.outfile_prefix}.panoptic'

    def _labels(self) -> Dict[int, int]:
        """Contiguous label -> category id, from ``dataset_meta``."""
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None:
            return {i: int(c['id']) for i, c in enumerate(self.categories)}
        by_name = {c.get('name'): int(c['id']) for c in self.categories}
        missing = [n for n in classes if n not in by_name]
        if missing:
            raise ValueError('CocoPanopticMetric: dataset_meta classes '
                             f'{missing} are not categories of ann_file')
        return {i: by_name[n] for i, n in enumerate(classes)}

    def _num_classes(self) -> int:
        classes = (self.dataset_meta or {}).get('classes')
        return len(classes) if classes is not None else len(self.categories)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Reduce each image to PQ statistics (and write its PNG).

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict]): Outputs with ``img_id``,
                ``pred_panoptic_seg['sem_seg']`` (1, H, W) and, without an
                annotation entry for the image, ``img_path``.
        """
        label2cat = self._labels()
        for sample in data_samples:
            img_id = int(_field(sample, 'img_id'))
            gt = self._gt.get(img_id)
            if gt is not None:
                file_name = gt['file_name']
            elif self.format_only and _field(sample, 'img_path'):
                file_name = osp.splitext(osp.basename(
                    _field(sample, 'img_path')))[0] + '.png'
            else:
                raise ValueError(f'CocoPanopticMetric: image id {img_id} '
                                 'has no annotation in ann_file')
            pred = _field(sample, 'pred_panoptic_seg')
            if pred is None:
                raise KeyError('CocoPanopticMetric needs pred_panoptic_seg '
                               f'in every data sample (image id {img_id})')
            pan = _to_numpy(_field(pred, 'sem_seg'))
            if pan.ndim == 3:
                pan = pan[0]
            num_classes = self._num_classes()
            ids, segs = mmdet_pred_to_segments(
                pan, num_classes, label2cat,
                _field(pred, 'ignore_index', num_classes))
            result: Dict[str, Any] = dict(image_id=img_id,
                                          file_name=file_name)
            if self.outfile_prefix is not None:
                write_panoptic_png(osp.join(self.seg_out_dir, file_name),
                                   ids)
                result['segments_info'] = segments_info(ids, segs)
            if not self.format_only:
                gt_ids = read_panoptic_png(
                    osp.join(self.seg_prefix, file_name), self.backend_args)
                result['stats'] = sample_pq_stats(
                    gt_ids, gt['segments_info'], ids, segs, self._cat_table,
                    index=f'image_id={img_id}')
            self.results.append(result)

    def _dump_json(self, results: List[dict]) -> str:
        path = f'{self.outfile_prefix}.panoptic.json'
        annotations = [
            dict(image_id=r['image_id'], file_name=r['file_name'],
                 segments_info=r['segments_info']) for r in results
        ]
        text = json.dumps(dict(annotations=annotations,
                               categories=self.categories))

        def _write(tmp: str) -> None:
            with open(tmp, 'w', encoding='utf-8') as f:
                f.write(text)

        atomic_write(path, _write, suffix='.json')
        return path

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Sum the statistics of all images and average per category.

        Args:
            results (list[dict]): Items from :meth:`process`, gathered from
                all ranks.

        Returns:
            dict[str, float]: ``PQ``, ``SQ``, ``RQ`` and their ``_th``
            (things) and ``_st`` (stuff) variants, in percent; empty with
            ``format_only``.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.outfile_prefix is not None:
            path = self._dump_json(results)
            logger.info(f'panoptic results written to {path} and '
                        f'{self.seg_out_dir}')
        if self.format_only:
            return {}
        pq = summarize_pq(merge_pq_stats(r['stats'] for r in results),
                          self.categories)
        self._log_tables(pq, logger)
        return {key: 100.0 * pq[group][k] for key, group, k in _KEYS}

    def _log_tables(self, pq: Dict[str, Any], logger: MMLogger) -> None:
        rows = [['', 'PQ', 'SQ', 'RQ', 'categories']]
        for name in ('All', 'Things', 'Stuff'):
            rows.append([name] + [
                f'{100 * pq[name][k]:0.3f}' for k in ('pq', 'sq', 'rq')
            ] + [pq[name]['n']])
        print_log('Panoptic Evaluation Results:\n' + AsciiTable(rows).table,
                  logger=logger)
        if not self.classwise:
            return
        names = {int(c['id']): c.get('name', str(c['id']))
                 for c in self.categories}
        rows = [['category', 'PQ', 'SQ', 'RQ']]
        for cat in self._cat_table:
            values = pq['per_class'].get(cat)
            rows.append([names[cat]] + (
                ['-'] * 3 if values is None else
                [f'{100 * values[k]:0.3f}' for k in ('pq', 'sq', 'rq')]))
        print_log('Classwise Panoptic Evaluation Results (- = category '
                  'absent from ground truth and predictions):\n' +
                  AsciiTable(rows).table, logger=logger)
