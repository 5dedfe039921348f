"""mmext.GradInversionLoop in an MMEngine runner on a tiny image folder:
metrics and PNG grids, exact resume, NaN stop, gradients files, 2-process
gloo runs that agree with one process, tools/invert.py and the
label-recovery tool."""
import json
import os.path as osp
import uuid

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmext.inversion.attack as attack_module
from mmext.inversion import batch_gradients
from mmext.testing import run_distributed
from mmext.testing.tools import load_tool

CLASSES = ('a', 'b', 'c', 'd')


def _write_folder(root: str, per_class: int = 5, size: int = 16) -> None:
    rng = np.random.RandomState(0)
    for c, name in enumerate(CLASSES):
        for k in range(per_class):
            image = np.full((size, size, 3), 40 * c + 20, np.uint8)
            image[4:12, 4:12] = rng.randint(0, 255, (8, 8, 3))
            mmcv.imwrite(image,
                         osp.join(root, 'train', name, f'{k:03d}.png'))


def _cfg(root: str, work_dir: str, **loop) -> dict:
    test_cfg = dict(
        type='mmext.GradInversionLoop',
        batch_size=4,
        num_batches=2,
        pool_size=4,
        checkpoint_interval=3,
        log_interval=3,
        attack=dict(
            iterations=6,
            num_seeds=2,
            warmup=2,
            group_start=2,
            group_every=2,
            grad_distance='cosine',
            grad_weight=1.0,
            bn_weight=1e-3))
    for key, value in loop.items():
        if key == 'attack':
            test_cfg['attack'].update(value)
        else:
            test_cfg[key] = value
    return dict(
        model=dict(
            type='mmext.ImageClassifier',
            backbone=dict(
                type='mmdet.ResNet',
                depth=18,
                base_channels=4,
                out_indices=(3, ),
                init_cfg=None),
            in_channels=32,
            num_classes=len(CLASSES),
            data_preprocessor=dict(
                type='ImgDataPreprocessor',
                mean=[127.5] * 3,
                std=[64.0] * 3,
                bgr_to_rgb=True)),
        work_dir=work_dir,
        experiment_name=f'gi-{uuid.uuid4().hex[:8]}',
        default_scope='mmext',
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
        test_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='mmext.ImageFolderDataset',
                data_root=root,
                data_prefix='train',
                metainfo=dict(classes=CLASSES),
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='mmext.PackClsInputs')
                ])),
        test_cfg=test_cfg,
        test_evaluator=[
            dict(type='mmext.ImageReconstructionMetric'),
            dict(type='mmext.IdentifiabilityPrecision', space='feature'),
            dict(type='mmext.IdentifiabilityPrecision', space='pixel'),
            dict(type='mmext.LabelRecoveryAccuracy'),
        ])


def _run(cfg: dict) -> dict:
    return Runner(**cfg).test()


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('gi_folder'))
    _write_folder(root)
    return root


@pytest.fixture(scope='module')
def straight(folder, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('gi_straight'))
    return work_dir, _run(_cfg(folder, work_dir))


def test_metrics_grids_and_labels(straight):
    work_dir, metrics = straight
    expected = {
        'inversion/psnr', 'inversion/ssim', 'inversion/fft2d',
        'inversion/iip_feature', 'inversion/iip_pixel',
        'inversion/iip_feature_pool_size', 'inversion/iip_pixel_pool_size',
        'inversion/label_acc'
    }
    assert expected <= set(metrics)
    # Distinct labels, ReLU features: the gradient gives every label.
    assert metrics['inversion/label_acc'] == 100.0
    # 2 batches of 4 targets and 4 extra pool images, all different.
    assert metrics['inversion/iip_pixel_pool_size'] == 12.0
    assert 0 < metrics['inversion/psnr'] < 60
    for batch in (0, 1):
        grid = mmcv.imread(
            osp.join(work_dir, 'gradinversion', f'batch_{batch:03d}.png'))
        # Two rows of four 16-px images, 2-px gaps.
        assert grid.shape == (2 * 16 + 2, 4 * 16 + 3 * 2, 3)


def test_resume_matches_a_straight_run(folder, straight, tmp_path,
                                       monkeypatch):
    _, reference = straight
    work_dir = str(tmp_path)
    original_step = attack_module.GradInversion.step
    calls = {'n': 0}

    def interrupted_step(self):
        calls['n'] += 1
        if calls['n'] == 11:  # batch 1 (on 1 rank), after its state save
            raise KeyboardInterrupt
        return original_step(self)

    monkeypatch.setattr(attack_module.GradInversion, 'step',
                        interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        _run(_cfg(folder, work_dir))
    calls['n'] = -1000  # no more interruptions; count the resumed steps
    state = torch.load(
        osp.join(work_dir, 'gradinversion', 'state_rank0.pth'),
        weights_only=False)
    assert list(state['done']) == [0]
    assert state['current']['batch'] == 1
    assert state['current']['attack']['iteration'] == 3
    resumed = _run(_cfg(folder, work_dir, resume=True))
    # Batch 0 was done; batch 1 went on from iteration 3 to 6.
    assert calls['n'] == -1000 + 3
    for key, value in reference.items():
        assert resumed[key] == pytest.approx(value, abs=1e-6), key
    with pytest.raises(ValueError, match='same settings'):
        _run(_cfg(folder, work_dir, resume=True, seed=5))


def test_nan_stops_and_keeps_the_best(folder, tmp_path, monkeypatch):
    original = attack_module.total_variation_prior
    calls = {'n': 0}

    def nan_after_a_while(images):
        calls['n'] += 1
        value = original(images)
        return value * float('nan') if calls['n'] > 4 else value

    monkeypatch.setattr(attack_module, 'total_variation_prior',
                        nan_after_a_while)
    with pytest.raises(FloatingPointError, match='best reconstruction'):
        _run(_cfg(folder, str(tmp_path)))
    best = mmcv.imread(
        osp.join(str(tmp_path), 'gradinversion', 'batch_000_best.png'))
    assert best.shape == (16, 4 * 16 + 3 * 2, 3)
    assert osp.isfile(
        osp.join(str(tmp_path), 'gradinversion', 'state_rank0.pth'))


def test_gradients_file(folder, tmp_path):
    cfg = _cfg(folder, str(tmp_path / 'run'))
    runner = Runner(**cfg)
    model = runner.model
    model.eval()
    from mmengine.dataset import pseudo_collate
    dataset = runner.test_dataloader.dataset
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in (0, 6, 12)]), False)
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    grads = batch_gradients(model, data['inputs'], labels)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    path = str(tmp_path / 'grads.pth')
    torch.save(
        dict(
            gradients=dict(zip(names, grads)),
            batch_size=3,
            labels=labels,
            images=data['inputs']), path)
    metrics = _run(
        _cfg(
            folder,
            str(tmp_path / 'file'),
            gradients_file=path,
            pool_size=0))
    assert metrics['inversion/label_acc'] == 100.0
    assert osp.isfile(
        osp.join(str(tmp_path / 'file'), 'gradinversion', 'batch_000.png'))
    torch.save(dict(gradients=grads[:-1], batch_size=3), path)
    with pytest.raises(ValueError, match='trainable parameters'):
        _run(_cfg(folder, str(tmp_path / 'bad'), gradients_file=path))


def test_bad_settings_name_the_field(folder, tmp_path):
    with pytest.raises(ValueError, match='attack.grad_distance'):
        _run(_cfg(folder, str(tmp_path), attack=dict(grad_distance='l1')))
    with pytest.raises(ValueError, match='attack: unknown field.*lrate'):
        _run(_cfg(folder, str(tmp_path), attack=dict(lrate=0.1)))
    # 4 classes: a batch of 5 repeats one, which the label rule cannot name.
    with pytest.raises(ValueError, match="labels='true'"):
        _run(_cfg(folder, str(tmp_path), batch_size=5, num_batches=1,
                  sampling='random'))
    with pytest.raises(ValueError, match='multiple of the 2 processes'):
        run_distributed(
            _dist_metrics, 2, args=(_cfg(folder, str(tmp_path),
                                         num_batches=3), ))


def _dist_metrics(rank, world_size, cfg):
    cfg = dict(cfg, launcher='pytorch')
    return _run(cfg)


def test_two_processes_match_one(folder, straight, tmp_path):
    _, reference = straight
    cfg = _cfg(folder, str(tmp_path))
    results = run_distributed(_dist_metrics, 2, args=(cfg, ), timeout=300)
    for metrics in results:
        for key, value in reference.items():
            assert metrics[key] == pytest.approx(value, abs=1e-5), key
    # Each rank attacked its own batch (and only that one).
    for rank in (0, 1):
        state = torch.load(
            osp.join(str(tmp_path), 'gradinversion',
                     f'state_rank{rank}.pth'),
            weights_only=False)
        assert list(state['done']) == [rank]
        assert osp.isfile(
            osp.join(str(tmp_path), 'gradinversion',
                     f'batch_{rank:03d}.png'))


def test_invert_tool(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('LOCAL_RANK', '0')
    invert = load_tool('invert.py')
    cfg = _cfg(folder, str(tmp_path / 'work'))
    model = Runner(**cfg).model
    checkpoint = str(tmp_path / 'victim.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    path = str(tmp_path / 'gi.py')
    Config(cfg).dump(path)
    assert invert.main([path, '--checkpoint', checkpoint]) == 0
    assert osp.isfile(
        osp.join(str(tmp_path / 'work'), 'gradinversion', 'batch_001.png'))
    assert invert.main([path]) == 1
    assert 'no weights for the attacked model' in capsys.readouterr().err
    plain = str(tmp_path / 'plain.py')
    Config(dict(cfg, test_cfg=dict())).dump(plain)
    assert invert.main([plain, '--checkpoint', checkpoint]) == 1
    assert 'GradInversionLoop' in capsys.readouterr().err

    labels_tool = load_tool('analysis_tools/gradinversion_labels.py')
    out = str(tmp_path / 'labels.json')
    assert labels_tool.main([
        path, checkpoint, '--batch-size', '4', '--trials', '4', '--out', out
    ]) == 0
    with open(out) as handle:
        rows = {r['sampling']: r for r in json.load(handle)}
    assert rows['distinct_labels']['label_accuracy'] == 100.0
    assert rows['distinct_labels']['exact_batches'] == 100.0
    assert 0 < rows['random']['label_accuracy'] <= 100.0


def test_baselines_tool(folder, tmp_path, capsys):
    tool = load_tool('analysis_tools/gradinversion_baselines.py')
    black = torch.zeros(2, 3, 16, 16)
    scores = tool.baseline_scores(black)
    # MSE 0.25 against grey: 10 log10(1 / 0.25) dB.
    assert scores['uniform grey 0.5'][0] == pytest.approx(6.0206, abs=1e-3)
    path = str(tmp_path / 'gi.py')
    Config(_cfg(folder, str(tmp_path / 'work'))).dump(path)
    assert tool.main([path]) == 0
    out = capsys.readouterr().out
    assert '| uniform grey 0.5 |' in out and '| mean image |' in out


def test_baselines_tool_gradient_distances(folder, tmp_path, capsys):
    from mmengine.registry import init_default_scope

    from mmext.registry import MODELS
    tool = load_tool('analysis_tools/gradinversion_baselines.py')
    cfg = _cfg(folder, str(tmp_path / 'work'))
    init_default_scope('mmext')
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save({'state_dict': MODELS.build(cfg['model']).state_dict()},
               checkpoint)
    path = str(tmp_path / 'gi.py')
    Config(cfg).dump(path)
    assert tool.main([path, '--checkpoint', checkpoint]) == 0
    table = capsys.readouterr().out.split('gradient distance |')[1]
    rows = {}
    for line in table.strip().splitlines()[1:]:
        name, value, dist = [c.strip() for c in line.strip('|').split('|')]
        rows[name] = (float(value), float(dist))
    assert set(rows) >= {'true batch', 'mirrored', 'box blur 3x3',
                         'shifted 2 px (circular)',
                         'own mean colour (oracle)'}
    assert rows['true batch'] == (float('inf'), pytest.approx(0, abs=1e-4))
    # cosine distance (the config's): every other guess is measurably off
    assert all(0.0 < dist <= 2.0 for name, (_, dist) in rows.items()
               if name != 'true batch')
    assert rows['box blur 3x3'][0] > rows['own mean colour (oracle)'][0]
