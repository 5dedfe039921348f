"""The Shapes classification config (mmpretrain's classifier and
CustomDataset) trains, validates and saves through a real Runner on the
``tiny`` Shapes preset (a few seconds on CPU)."""
import glob
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from mmext.datasets.shapes import THING_CLASSES

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = glob.glob(
    osp.join(REPO, 'configs', 'shapes', 'cls_resnet18*_shapes-64px.py'))


def test_one_config_per_pattern():
    assert len(CONFIG) == 1, CONFIG


def test_shapes_cls_config_trains_and_tests(shapes_tiny, tmp_path):
    data_root = shapes_tiny
    cfg = Config.fromfile(CONFIG[0])
    assert cfg.default_scope == 'mmpretrain'
    assert tuple(cfg.train_dataloader.dataset.metainfo.classes) == \
        THING_CLASSES
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        loader.batch_size = 16
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = []
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))
    metrics = runner.test()
    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}
    assert 0.0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100
    dataset = runner.test_dataloader.dataset
    assert dataset.metainfo['classes'] == THING_CLASSES
    # Every crop's label names its class folder (the annotation list keeps
    # the generator's order; scanned folders would be numbered sorted).
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        folder = osp.basename(osp.dirname(info['img_path']))
        assert THING_CLASSES[info['gt_label']] == folder, info
