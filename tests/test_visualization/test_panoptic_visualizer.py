"""mmext.PanopticVisualizer: an all-VOID panoptic prediction leaves the
image as it is (mmdet's DetLocalVisualizer fails on it), a map with
segments is drawn, and the panoptic configs use it."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import PixelData

from mmext.registry import VISUALIZERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ('circle', 'square', 'sky')  # 2 things, 1 stuff; VOID = 3


def _sample(ids: np.ndarray) -> DetDataSample:
    sample = DetDataSample()
    sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(ids)[None])
    return sample


def _visualizer(name: str):
    vis = VISUALIZERS.build(dict(type='mmext.PanopticVisualizer', name=name))
    vis.dataset_meta = dict(classes=CLASSES,
                            palette=[(220, 20, 60), (0, 0, 142),
                                     (119, 11, 32)])
    return vis


def test_all_void_prediction_keeps_the_image():
    image = np.random.RandomState(0).randint(0, 255, (24, 32, 3), np.uint8)
    vis = _visualizer('void')
    vis.add_datasample('void', image, _sample(np.full((24, 32), 3)),
                       draw_gt=False, show=False)
    np.testing.assert_array_equal(vis.get_image(), image)


def test_segments_are_drawn():
    image = np.zeros((24, 32, 3), np.uint8)
    ids = np.full((24, 32), 3)
    ids[4:12, 4:12] = 0 + 1 * 1000  # circle, instance 1 (INSTANCE_OFFSET)
    ids[16:, :] = 2  # sky
    vis = _visualizer('drawn')
    vis.add_datasample('drawn', image, _sample(ids), draw_gt=False,
                       show=False)
    drawn = vis.get_image()
    assert drawn[8, 8].any() and drawn[20, 16].any()  # both segments
    np.testing.assert_array_equal(drawn[1, 30], 0)  # VOID stays as is


@pytest.mark.parametrize('name', [
    'panoptic-segformer_r18-w32_1xb4-10e_shapes-panoptic-128px.py',
    'panoptic-segformer_r50_8xb1-24e_coco-panoptic.py',
    'panoptic-segformer_mit-b5_8xb1-24e_coco-panoptic.py',
])
def test_panoptic_configs_use_it(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'panoptic_segformer',
                                   name))
    assert cfg.visualizer.type == 'mmext.PanopticVisualizer'
    assert cfg.visualizer.vis_backends  # mmdet's backends kept
