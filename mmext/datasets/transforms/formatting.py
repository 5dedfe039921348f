"""Packing transforms: turn a pipeline's result dict into model inputs."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS
from mmext.structures import ClsDataSample


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack an image and its label for :class:`mmext.ImageClassifier`.

    Required keys: ``img`` (ndarray [H, W, C] or [H, W], usually uint8).
    Optional keys: ``gt_label`` and the ``meta_keys``.

    Added keys: ``inputs`` (Tensor [C, H, W], same dtype as ``img``) and
    ``data_samples`` (:class:`ClsDataSample` with ``gt_label`` when the
    input has one, and the ``meta_keys`` present in the input as metainfo).

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo when
            present. Defaults to ``('sample_idx', 'img_path', 'ori_shape',
            'img_shape', 'scale_factor', 'flip', 'flip_direction')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'scale_factor', 'flip',
                                             'flip_direction')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results``.

        Args:
            results (dict): The pipeline's result dict.

        Returns:
            dict: ``dict(inputs=Tensor [C, H, W],
            data_samples=ClsDataSample)``.
        """
        if 'img' not in results:
            raise KeyError("PackClsInputs needs 'img' in the results; put a "
                           'loading transform (LoadImageFromFile) first')
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]  # [H, W] -> [H, W, 1]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = ClsDataSample(metainfo={
            k: results[k]
            for k in self.meta_keys if k in results
        })
        if results.get('gt_label') is not None:
            sample.gt_label = results['gt_label']
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
