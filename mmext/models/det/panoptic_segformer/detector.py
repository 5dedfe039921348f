"""Panoptic SegFormer detector for mmdet 3.x.

Li et al., "Panoptic SegFormer: Delving Deeper into Panoptic Segmentation
with Transformers", CVPR 2022 (arXiv 2109.03814).

mmdet's Deformable DETR runs the backbone, the neck, the multi-level
deformable encoder and the location decoder (with box refinement); this
subclass only hands the encoder memory on to the head, whose mask decoders
read it, and stores the merged panoptic maps in ``pred_panoptic_seg``.
"""
from typing import Dict, List, Optional, Tuple

from mmdet.models.detectors import DeformableDETR
from mmengine.structures import PixelData
from torch import Tensor

from mmext.registry import MODELS


@MODELS.register_module()
class PanopticSegFormer(DeformableDETR):
    """Deformable DETR plus Panoptic SegFormer's mask decoders.

    Arguments are :class:`mmdet.models.DeformableDETR`'s; the head is a
    :class:`mmext.PanopticSegFormerHead`. ``with_box_refine=True`` and
    ``as_two_stage=False`` are the paper's setting.

    Predictions: each data sample gets ``pred_panoptic_seg.sem_seg``
    (``[1, H, W]``, ``label + instance * 1000`` for things, ``label`` for
    stuff, VOID = number of classes), the convention of mmdet's panoptic
    models and of :class:`mmext.CocoPanopticMetric`.
    """

    def forward_transformer(self, img_feats: Tuple[Tensor],
                            batch_data_samples: Optional[List] = None
                            ) -> Dict:
        """mmdet's four transformer steps, keeping the encoder output.

        Returns:
            The head inputs of Deformable DETR plus ``memory``
            (``[B, L, C]``), ``memory_mask`` (``[B, L]`` or None) and
            ``spatial_shapes`` (``[levels, 2]``).
        """
        encoder_inputs, decoder_inputs = self.pre_transformer(
            img_feats, batch_data_samples)
        encoder_outputs = self.forward_encoder(**encoder_inputs)
        decoder_extra, head_inputs = self.pre_decoder(**encoder_outputs)
        decoder_inputs.update(decoder_extra)
        head_inputs.update(self.forward_decoder(**decoder_inputs))
        head_inputs.update(memory=encoder_outputs['memory'],
                           memory_mask=encoder_outputs['memory_mask'],
                           spatial_shapes=encoder_outputs['spatial_shapes'])
        return head_inputs

    def predict(self, batch_inputs: Tensor, batch_data_samples: List,
                rescale: bool = True) -> List:
        """Panoptic maps for a batch (see the class docstring)."""
        img_feats = self.extract_feat(batch_inputs)
        head_inputs = self.forward_transformer(img_feats, batch_data_samples)
        panoptic_maps = self.bbox_head.predict(
            **head_inputs, rescale=rescale,
            batch_data_samples=batch_data_samples)
        for data_sample, panoptic in zip(batch_data_samples, panoptic_maps):
            data_sample.pred_panoptic_seg = PixelData(sem_seg=panoptic[None])
        return batch_data_samples
