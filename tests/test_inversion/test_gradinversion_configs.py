"""The GradInversion configs: the ImageNet one carries the paper's weights
and runs end to end (one iteration, small batch, on generated JPEGs); the
Shapes ablations differ from the full method in one term only."""
import dataclasses
import glob
import os.path as osp

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.engine.runner.gradinversion_loop import build_settings
from mmext.inversion import InversionSettings

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'gradinversion')
SHAPES = osp.join(CONFIG_DIR,
                  'gradinversion_resnet18-w32_b8-600it_shapes-64px.py')
IMAGENET = osp.join(CONFIG_DIR,
                    'gradinversion_resnet50_b8-20kit_imagenet-224px.py')


def test_every_config_has_valid_loop_settings():
    paths = glob.glob(osp.join(CONFIG_DIR, '*.py'))
    assert len(paths) == 7
    for path in paths:
        cfg = Config.fromfile(path)
        assert cfg.test_cfg.type == 'mmext.GradInversionLoop'
        build_settings(cfg.test_cfg.attack)


def test_shapes_ablations_change_one_term():
    full = Config.fromfile(SHAPES).test_cfg.attack
    for name, field in (('nogroup', 'group_weight'), ('bnonly',
                                                     'grad_weight')):
        path = osp.join(
            CONFIG_DIR,
            f'gradinversion-{name}_resnet18-w32_b8-600it_shapes-64px.py')
        ablation = Config.fromfile(path).test_cfg.attack
        changed = {k for k in full if full[k] != ablation[k]}
        assert changed == {field} and ablation[field] == 0
    oracle = Config.fromfile(
        osp.join(CONFIG_DIR, 'gradinversion-oracleinit_resnet18-w32_b8-'
                 '600it_shapes-64px.py')).test_cfg.attack
    assert {k for k in oracle if oracle.get(k) != full.get(k)} == {
        'init', 'init_noise'} and oracle['init'] == 'oracle'


def test_imagenet_config_is_the_papers_setting_and_runs(tmp_path):
    cfg = Config.fromfile(IMAGENET)
    settings = build_settings(cfg.test_cfg.attack)
    assert settings == InversionSettings()  # mmext's defaults: the paper's
    assert cfg.test_cfg.batch_size == 8
    assert cfg.test_cfg.sampling == 'distinct_labels'
    rng = np.random.RandomState(0)
    lines = []
    for c in range(3):
        mmcv.imwrite(
            rng.randint(0, 255, (260, 300, 3)).astype(np.uint8),
            str(tmp_path / 'data' / 'train' / f'n0{c}' / 'a.JPEG'))
        lines.append(f'n0{c}/a.JPEG {c}\n')
    # mmpretrain's ImageNet list file (1000 classes, of which 3 are used).
    (tmp_path / 'data' / 'meta').mkdir()
    (tmp_path / 'data' / 'meta' / 'train.txt').write_text(''.join(lines))
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'data')
    cfg.test_dataloader.num_workers = 0
    cfg.load_from = None
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    cfg.merge_from_dict({
        'test_cfg.batch_size': 2,
        'test_cfg.pool_size': 0,
        'test_cfg.attack.iterations': 1,
        'test_cfg.attack.num_seeds': 1
    })
    metrics = Runner.from_cfg(cfg).test()
    assert 0 < metrics['inversion/psnr'] < 60
    grid = mmcv.imread(
        str(tmp_path / 'work' / 'gradinversion' / 'batch_000.png'))
    assert grid.shape == (2 * 224 + 2, 2 * 224 + 2, 3)
    assert dataclasses.asdict(settings)['grad_distance'] == 'l2'
