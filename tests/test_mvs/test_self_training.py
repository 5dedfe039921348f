"""The self-training pipeline (:mod:`mmext.mvs.self_training`,
``tools/mvs/self_train.py``, ``tools/mvs/make_pseudo_depth.py``): the
configs' parameters, a whole tiny run with its artefacts, rerun and resume,
and the errors of bad input."""
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config

from mmext.mvs.pseudo_depth import PseudoLabelSettings
from mmext.mvs.self_training import (final_checkpoint, labelling_cfg,
                                     load_labelling_model, next_round,
                                     round_training_cfg, run_self_training,
                                     stage_configs)
from mmext.registry import MODELS
from mmext.testing.distributed import run_distributed
from mmext.testing.tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'cvp_mvsnet')
DTU = osp.join(CONFIGS, 'cvp-mvsnet-selfsup_2l-nsrc2_1xb16-40e-2r_dtu-128x160.py')
SHAPES = osp.join(CONFIGS,
                  'cvp-mvsnet-selfsup_2l-nsrc2_1xb4-1600it-2r_shapes-mvs-64x80.py')


def test_dtu_config_has_the_papers_pipeline_parameters():
    cfg = Config.fromfile(DTU)
    unsupervised, rounds, from_previous = stage_configs(cfg)
    assert unsupervised.model.unsupervised_loss.type == \
        'mmext.UnsupervisedMVSLoss'
    assert not unsupervised.train_dataloader.dataset.with_depth
    assert rounds >= 1 and from_previous is False
    settings = PseudoLabelSettings(**cfg.pseudo_label.settings)
    assert (settings.confidence_threshold, settings.num_consistent,
            settings.max_reprojection_error, settings.poisson_depth,
            settings.trim_quantile) == (0.8, 3, 0.13, 12, 0.05)
    target = cfg.pseudo_label.target
    assert (target.cameras, target.scale, tuple(target.offset),
            tuple(target.size)) == ('adjusted', 0.125, (-20.0, -11.0),
                                    (128, 160))
    data = cfg.pseudo_label.data
    assert (data.split, data.nsrc, data.num_levels, tuple(data.crop)) == \
        ('test', 4, 5, (1184, 1600))
    labelling = labelling_cfg(cfg)
    model = MODELS.build(labelling.model)
    assert model.core.num_levels == 5
    assert model.core.residual_interval == 'epipolar'
    # the rounds train the supervised recipe, on coarse levels without
    # the labels blended with holes
    assert cfg.model.get('unsupervised_loss') is None
    assert cfg.train_dataloader.dataset.drop_blended_depth is True
    assert cfg.model.num_levels == 2


def tiny_cfg(root: str, work: str) -> Config:
    """The Shapes pipeline on the tiny preset, a few iterations a stage."""
    cfg = Config.fromfile(SHAPES)
    unsupervised = Config.fromfile(
        osp.join(CONFIGS, cfg.self_training.unsupervised))
    overrides = {
        'train_dataloader.dataset.data_root': osp.join(root, 'train'),
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 100,
        'model.num_initial_planes': 8,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
    }
    unsupervised.merge_from_dict(overrides)
    for stage in (unsupervised, ):
        stage.val_dataloader = stage.test_dataloader = None
        stage.val_cfg = stage.test_cfg = None
        stage.val_evaluator = stage.test_evaluator = None
    path = osp.join(work, 'unsup.py')
    unsupervised.dump(path)
    cfg.merge_from_dict(overrides)
    cfg.merge_from_dict({
        'self_training.unsupervised': path,
        'self_training.rounds': 2,
        'pseudo_label.data.data_root': osp.join(root, 'train_hires'),
        'pseudo_label.target.data_root': osp.join(root, 'train'),
        # an untrained network is not confident: keep every depth
        'pseudo_label.settings.confidence_threshold': 0.0,
        'pseudo_label.settings.num_consistent': 0,
        'pseudo_label.settings.poisson_depth': 6,
        'pseudo_label.settings.min_points': 100,
    })
    cfg.val_dataloader = cfg.test_dataloader = None
    cfg.val_cfg = cfg.test_cfg = cfg.val_evaluator = None
    cfg.test_evaluator = None
    cfg_path = osp.join(work, 'pipeline.py')
    cfg.dump(cfg_path)
    return Config.fromfile(cfg_path)


@pytest.fixture
def tiny_pipeline(shapes_mvs_tiny, tmp_path):
    work = tmp_path / 'cfg'
    work.mkdir()
    return tiny_cfg(shapes_mvs_tiny, str(work)), str(tmp_path / 'run')


@pytest.fixture(scope='module')
def one_round(shapes_mvs_tiny, tmp_path_factory):
    """A finished one-round run (read-only): ``(cfg, work_dir, result)``."""
    root = tmp_path_factory.mktemp('one_round')
    cfg = tiny_cfg(shapes_mvs_tiny, str(root))
    cfg.merge_from_dict({'self_training.rounds': 1})
    cfg.dump(cfg.filename)
    work_dir = str(root / 'run')
    return cfg, work_dir, run_self_training(cfg, work_dir)


def _mtimes(folder: str) -> dict:
    return {
        osp.join(base, name): os.stat(osp.join(base, name)).st_mtime_ns
        for base, _, files in os.walk(folder) for name in files
    }


def test_the_pipeline_runs_every_stage_and_reruns_none(tiny_pipeline):
    cfg, work_dir = tiny_pipeline
    result = run_self_training(cfg, work_dir)
    assert list(result['checkpoints']) == ['unsupervised', 'round1',
                                           'round2']
    for stage, checkpoint in result['checkpoints'].items():
        assert checkpoint == osp.join(work_dir, stage, 'iter_2.pth')
    for index in (1, 2):
        labels = osp.join(work_dir, 'pseudo', f'round{index}')
        assert osp.isfile(osp.join(labels, 'summary.json'))
        assert osp.isfile(osp.join(labels, 'Depths', 'scan1_train',
                                   'depth_map_0000.pfm'))
        assert result['labels'][index]['coverage'] > 0
    # round 2's labels come from round 1's weights, not stage 1's
    stage1 = torch.load(result['checkpoints']['unsupervised'],
                        weights_only=False)['state_dict']
    round1 = torch.load(result['checkpoints']['round1'],
                        weights_only=False)['state_dict']
    assert any(not torch.equal(stage1[k], round1[k]) for k in stage1)
    before = _mtimes(work_dir)
    again = run_self_training(cfg, work_dir)
    assert again['checkpoints'] == result['checkpoints']
    assert again['labels'] == {}
    assert _mtimes(work_dir) == before  # nothing recomputed or rewritten


def _last_log(work_dir: str) -> str:
    """The text of the newest runner log under ``work_dir``."""
    logs = sorted(
        osp.join(base, name) for base, _, files in os.walk(work_dir)
        for name in files if name.endswith('.log'))
    with open(logs[-1]) as handle:
        return handle.read()


def test_a_stopped_training_stage_resumes(one_round, tmp_path):
    finished, finished_dir, _ = one_round
    work_dir = str(tmp_path / 'run')
    shutil.copytree(finished_dir, work_dir)
    cfg = Config.fromfile(finished.filename)
    labels = _mtimes(osp.join(work_dir, 'pseudo'))
    # round 1 as a run of 4 iterations stopped after its checkpoint at 2
    cfg.merge_from_dict({'train_cfg.max_iters': 4})
    round_dir = osp.join(work_dir, 'round1')
    assert final_checkpoint(cfg, round_dir) is None
    run_self_training(cfg, work_dir)
    assert final_checkpoint(cfg, round_dir) == osp.join(round_dir,
                                                        'iter_4.pth')
    text = _last_log(round_dir)
    assert 'resumed' in text.lower()
    assert 'Iter(train) [4/4]' in text and 'Iter(train) [1/4]' not in text
    # the finished labelling round was not redone
    assert _mtimes(osp.join(work_dir, 'pseudo')) == labels


def test_init_from_previous_decides_where_a_round_starts(one_round,
                                                         tmp_path):
    finished, finished_dir, _ = one_round
    key = 'core.feature_pyramid.convs.0.weight'
    for from_previous in (True, False):
        work_dir = str(tmp_path / f'from_previous_{from_previous}')
        shutil.copytree(finished_dir, work_dir)
        shutil.rmtree(osp.join(work_dir, 'round1'))
        # mark stage 1's weights: shifted by 1, far from any initialisation
        stage1_path = osp.join(work_dir, 'unsupervised', 'iter_2.pth')
        stage1 = torch.load(stage1_path, weights_only=False)
        stage1['state_dict'][key] += 1.0
        torch.save(stage1, stage1_path)
        cfg = Config.fromfile(finished.filename)
        cfg.merge_from_dict(
            {'self_training.init_from_previous': from_previous})
        round1 = run_self_training(cfg, work_dir)['checkpoints']['round1']
        weights = torch.load(round1, weights_only=False)['state_dict']
        # two Adam steps of 1e-3 move a weight by at most about 2e-3
        distance = (weights[key] - stage1['state_dict'][key]).abs()
        loaded = stage1_path in _last_log(osp.join(work_dir, 'round1'))
        if from_previous:
            assert loaded and distance.max() < 5e-3
        else:
            assert not loaded and distance.min() > 0.5


def test_round_training_reads_the_labelled_scans(tiny_pipeline, tmp_path):
    cfg, _ = tiny_pipeline
    labels = tmp_path / 'labels'
    labels.mkdir()
    (labels / 'scan_list_train.txt').write_text('scan2\n')
    train = round_training_cfg(cfg, str(labels))
    dataset = train.train_dataloader.dataset
    assert dataset.depth_root == str(labels) and dataset.with_depth
    assert dataset.scan_list == osp.abspath(labels / 'scan_list_train.txt')
    (labels / 'scan_list_train.txt').write_text('')
    with pytest.raises(ValueError, match='no scan kept enough'):
        round_training_cfg(cfg, str(labels))


def test_a_checkpoint_of_another_model_is_refused(tiny_pipeline, tmp_path):
    cfg, _ = tiny_pipeline
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=torch.nn.Linear(3, 2).state_dict()), path)
    with pytest.raises(ValueError, match='does not fit the model'):
        load_labelling_model(cfg, path)
    with pytest.raises(FileNotFoundError):
        load_labelling_model(cfg, str(tmp_path / 'missing.pth'))


def test_make_pseudo_depth_cli(one_round, tmp_path, capsys):
    cfg, _, result = one_round
    tool = load_tool('mvs/make_pseudo_depth.py')
    out = str(tmp_path / 'labels')
    argv = [cfg.filename, result['checkpoints']['round1'], '--out', out,
            '--no-progress']
    assert next_round(out) == 1
    assert tool.main(argv) == 0
    assert next_round(out) == 2
    assert 'round 1' in capsys.readouterr().out
    first = _mtimes(osp.join(out, 'round1'))
    # an explicit finished round is refused and left as it was
    assert tool.main(argv + ['--round', '1']) == 1
    assert 'never overwritten' in capsys.readouterr().err
    assert _mtimes(osp.join(out, 'round1')) == first
    # the next round goes beside it
    assert tool.main(argv) == 0
    assert osp.isfile(osp.join(out, 'round2', 'summary.json'))
    # a checkpoint of another network: a clear error, nothing written
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict={'w': torch.zeros(1)}), bad)
    assert tool.main([cfg.filename, bad, '--out', str(tmp_path / 'x')]) == 1
    assert 'does not fit the model' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'x')


def test_a_missing_section_names_the_field(tmp_path):
    (tmp_path / 'plain.py').write_text("model = dict(type='mmext.CVPMVSNet')\n")
    cfg = Config.fromfile(str(tmp_path / 'plain.py'))
    with pytest.raises(ValueError, match='self_training'):
        run_self_training(cfg, str(tmp_path / 'run'))
    cfg.self_training = dict(unsupervised='nowhere.py')
    with pytest.raises(ValueError, match='self_training.unsupervised'):
        stage_configs(cfg)


def _pipeline_on_rank(rank, world_size, cfg_path, work_dir):
    cfg = Config.fromfile(cfg_path)
    result = run_self_training(cfg, work_dir, launcher='pytorch')
    weights = torch.load(result['checkpoints']['round1'],
                         weights_only=False)['state_dict']
    return result['checkpoints'], sorted(result['labels']), {
        k: v.sum().item() for k, v in weights.items()}


def test_the_pipeline_under_two_processes(tiny_pipeline):
    cfg, work_dir = tiny_pipeline
    cfg.merge_from_dict({'self_training.rounds': 1})
    cfg.dump(cfg.filename)
    results = run_distributed(_pipeline_on_rank, world_size=2,
                              args=(cfg.filename, work_dir), timeout=300)
    (ckpt0, labels0, weights0), (ckpt1, labels1, weights1) = results
    assert ckpt0 == ckpt1 and osp.isfile(ckpt0['round1'])
    assert labels0 == [1] and labels1 == [1]  # every rank took part
    assert weights0 == weights1
    summary = osp.join(work_dir, 'pseudo', 'round1', 'summary.json')
    assert osp.isfile(summary)
