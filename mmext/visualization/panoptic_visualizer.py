"""mmdet's detection visualizer, made safe for empty panoptic maps (Panoptic
SegFormer, Li et al., CVPR 2022, arXiv 2109.03814, and any mmdet panoptic
model)."""
import numpy as np
from mmdet.visualization import DetLocalVisualizer

from mmext.registry import VISUALIZERS


@VISUALIZERS.register_module()
class PanopticVisualizer(DetLocalVisualizer):
    """:class:`mmdet.visualization.DetLocalVisualizer` that also draws a
    panoptic map in which every pixel is VOID.

    mmdet 3.x stacks the areas of the drawn segments and fails (``np.stack``
    of an empty list) when there is none, which is what an untrained or
    early checkpoint predicts: ``tools/test.py --show-dir`` then stops at
    the first such image. Here such a map leaves the image as it is; every
    other map is drawn by mmdet.
    """

    def _draw_panoptic_seg(self, image: np.ndarray, panoptic_seg,
                           classes, palette) -> np.ndarray:
        """Draw ``panoptic_seg`` ([1, H, W] ids) on ``image`` [H, W, 3] RGB;
        ``image`` unchanged when no pixel belongs to a segment."""
        void = len(classes)
        if 'label_names' in panoptic_seg:  # mmdet's open-set convention
            void = panoptic_seg.metainfo.get(
                'ignore_index', len(panoptic_seg.metainfo['label_names']))
        if np.all(np.asarray(panoptic_seg.sem_seg[0]) == void):
            self.set_image(image)
            return self.get_image()
        return super()._draw_panoptic_seg(image, panoptic_seg, classes,
                                          palette)
