"""mmext.GradInversionLoop in an MMEngine runner on a tiny image folder
(``gi_folder`` and ``gi_cfg`` in conftest.py): metrics and PNG grids, exact
resume, NaN stop, gradients files, 2-process gloo runs that agree with one
process."""
import os.path as osp

import mmcv
import pytest
import torch
from mmengine.runner import Runner

import mmext.inversion.attack as attack_module
from mmext.inversion import batch_gradients
from mmext.testing import run_distributed


def _run(cfg: dict) -> dict:
    return Runner(**cfg).test()


@pytest.fixture(scope='module')
def straight(gi_folder, gi_cfg, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('gi_straight'))
    return work_dir, _run(gi_cfg(gi_folder, work_dir))


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


def test_resume_matches_a_straight_run(gi_folder, gi_cfg, straight,
                                       tmp_path, monkeypatch):
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
        _run(gi_cfg(gi_folder, work_dir))
    calls['n'] = -1000  # no more interruptions; count the resumed steps
    state = torch.load(
        osp.join(work_dir, 'gradinversion', 'state_rank0.pth'),
        weights_only=False)
    assert list(state['done']) == [0]
    assert state['current']['batch'] == 1
    assert state['current']['attack']['iteration'] == 3
    resumed = _run(gi_cfg(gi_folder, work_dir, resume=True))
    # Batch 0 was done; batch 1 went on from iteration 3 to 6.
    assert calls['n'] == -1000 + 3
    for key, value in reference.items():
        assert resumed[key] == pytest.approx(value, abs=1e-6), key
    with pytest.raises(ValueError, match='same settings'):
        _run(gi_cfg(gi_folder, work_dir, resume=True, seed=5))


def test_nan_stops_and_keeps_the_best(gi_folder, gi_cfg, tmp_path,
                                      monkeypatch):
    original = attack_module.total_variation_prior
    calls = {'n': 0}

    def nan_after_a_while(images):
        calls['n'] += 1
        value = original(images)
        return value * float('nan') if calls['n'] > 4 else value

    monkeypatch.setattr(attack_module, 'total_variation_prior',
                        nan_after_a_while)
    with pytest.raises(FloatingPointError, match='best reconstruction'):
        _run(gi_cfg(gi_folder, str(tmp_path)))
    best = mmcv.imread(
        osp.join(str(tmp_path), 'gradinversion', 'batch_000_best.png'))
    assert best.shape == (16, 4 * 16 + 3 * 2, 3)
    assert osp.isfile(
        osp.join(str(tmp_path), 'gradinversion', 'state_rank0.pth'))


def test_gradients_file(gi_folder, gi_cfg, tmp_path):
    cfg = gi_cfg(gi_folder, str(tmp_path / 'run'))
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
        gi_cfg(
            gi_folder,
            str(tmp_path / 'file'),
            gradients_file=path,
            pool_size=0))
    assert metrics['inversion/label_acc'] == 100.0
    assert osp.isfile(
        osp.join(str(tmp_path / 'file'), 'gradinversion', 'batch_000.png'))
    torch.save(dict(gradients=grads[:-1], batch_size=3), path)
    with pytest.raises(ValueError, match='trainable parameters'):
        _run(gi_cfg(gi_folder, str(tmp_path / 'bad'), gradients_file=path))


def test_bad_settings_name_the_field(gi_folder, gi_cfg, tmp_path):
    with pytest.raises(ValueError, match='attack.grad_distance'):
        _run(gi_cfg(gi_folder, str(tmp_path),
                    attack=dict(grad_distance='l1')))
    with pytest.raises(ValueError, match='attack: unknown field.*lrate'):
        _run(gi_cfg(gi_folder, str(tmp_path), attack=dict(lrate=0.1)))
    # 4 classes: a batch of 5 repeats one, which the label rule cannot name.
    with pytest.raises(ValueError, match="labels='true'"):
        _run(gi_cfg(gi_folder, str(tmp_path), batch_size=5, num_batches=1,
                    sampling='random'))
    with pytest.raises(ValueError, match='multiple of the 2 processes'):
        run_distributed(
            _dist_metrics, 2, args=(gi_cfg(gi_folder, str(tmp_path),
                                           num_batches=3), ))


def _dist_metrics(rank, world_size, cfg):
    cfg = dict(cfg, launcher='pytorch')
    return _run(cfg)


def test_two_processes_match_one(gi_folder, gi_cfg, straight, tmp_path):
    _, reference = straight
    cfg = gi_cfg(gi_folder, str(tmp_path))
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
