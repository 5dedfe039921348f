"""mmext.ActiveLearningLoop through a real Runner on the tiny Shapes set:
the cycle bookkeeping, pseudo-labels, resume mid-cycle, 2-process DDP and
the errors that name the field."""
import copy
import glob
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.testing.distributed import run_distributed

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(
    REPO, 'configs/active_learning/'
    'alssl_ssd-r18-w32_1xb8-6x500it_shapes-128px.py')


def tiny_al_cfg(data_root: str, work_dir: str, **train_cfg) -> Config:
    """The Shapes active-learning config on the tiny set (16 training
    scenes): 4 initial, 2 cycles of 2 more, 3 iterations of batch 4 per
    cycle, a checkpoint every iteration, validation on the 8 val scenes."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.train_cfg.score_dataloader):
        loader.dataset.data_root = data_root
        if 'num_workers' in loader:
            loader.num_workers = 0
            loader.persistent_workers = False
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg.score_dataloader.batch_size = 4
    cfg.val_evaluator.ann_file = osp.join(data_root,
                                          'annotations/instances_val.json')
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.train_cfg.update(num_cycles=2, initial_labeled=4, budget=2,
                         iters_per_cycle=3)
    cfg.train_cfg.update(train_cfg)
    cfg.model.ramp = dict(ramp_up=1, ramp_down_start=2, total=3)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
             end=2)
    ]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=1, max_keep_ckpts=20)
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook',
                                           draw=False)
    return cfg


def states(work_dir: str) -> dict:
    folder = osp.join(work_dir, 'pool_state')
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(osp.join(folder, name)) as f:
            out[name] = json.load(f)
    return out


@pytest.fixture(scope='module')
def finished_run(shapes_tiny, tmp_path_factory):
    """One uninterrupted run with low thresholds, so that boxes are scored
    and pseudo-labelled by the barely trained detector."""
    work_dir = str(tmp_path_factory.mktemp('al_run'))
    cfg = tiny_al_cfg(shapes_tiny, work_dir,
                      acquisition=dict(rule='product', score_thr=0.02),
                      pseudo_label=dict(score_thr=0.05))
    Runner.from_cfg(cfg).train()
    return cfg, states(work_dir)


def test_labelled_set_grows_by_the_budget(finished_run):
    cfg, saved = finished_run
    assert sorted(saved) == ['cycle_0.json', 'cycle_1.json', 'cycle_2.json',
                             'final.json']
    pool = saved['cycle_0.json']['pool_ids']
    assert len(pool) == 16
    previous = []
    for k, size in enumerate((4, 6, 8)):
        state = saved[f'cycle_{k}.json']
        labelled = state['labelled']
        assert state['cycle'] == k
        assert len(labelled) == size == len(set(labelled))
        assert set(labelled) <= set(pool)
        assert labelled[:len(previous)] == previous  # only ever grows
        previous = labelled
    final = saved['final.json']
    assert [h['num_labelled'] for h in final['history']] == [4, 6, 8]
    for entry, nxt in zip(final['history'], ('cycle_1.json', 'cycle_2.json')):
        assert len(entry['selected']) == 2
        assert saved[nxt]['labelled'][-2:] == entry['selected']
        assert 'coco/bbox_mAP_50' in entry['metrics']
        assert sum(entry['selected_classes'].values()) >= 2


def test_cycles_reach_the_log_and_the_visualizer(finished_run):
    cfg, saved = finished_run
    [scalars] = glob.glob(osp.join(cfg.work_dir, '*', 'vis_data',
                                   'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    per_cycle = [r for r in records if 'active_learning/num_labelled' in r]
    assert [(r['step'], r['active_learning/num_labelled'])
            for r in per_cycle] == [(0, 4), (1, 6), (2, 8)]
    first = saved['final.json']['history'][0]
    assert per_cycle[0]['active_learning/coco/bbox_mAP_50'] == \
        first['metrics']['coco/bbox_mAP_50']
    for name, count in first['selected_classes'].items():
        assert per_cycle[0][f'active_learning/selected/{name}'] == count
    [log] = glob.glob(osp.join(cfg.work_dir, '*', '*.log'))
    with open(log) as f:
        text = f.read()
    assert 'cycle 0: scoring 12 unlabelled images' in text
    assert 'selected 2 images' in text
    assert 'cycle 2: 8 labelled' in text


def test_pseudo_labels_are_recomputed_from_each_cycles_model(finished_run):
    _, saved = finished_run
    boxes = []
    for name in ('cycle_1.json', 'cycle_2.json'):
        state = saved[name]
        pseudo = state['pseudo']
        assert pseudo, 'the low threshold should pseudo-label some images'
        assert not set(map(int, pseudo)) & set(state['labelled'])
        for labels in pseudo.values():
            assert min(labels['scores']) >= 0.05
            assert len(labels['bboxes']) == len(labels['labels'])
        boxes.append(pseudo)
    assert boxes[0] != boxes[1]  # a different model, different boxes


def test_checkpoint_holds_the_pool_state(finished_run):
    cfg, saved = finished_run
    checkpoint = torch.load(osp.join(cfg.work_dir, 'iter_5.pth'),
                            map_location='cpu', weights_only=True)
    pool = checkpoint['active_learning']['pool']
    assert pool['cycle'] == 1
    assert pool['labelled'] == saved['cycle_1.json']['labelled']
    # The model's own keys: the stock detector config loads them.
    assert not any(k.startswith('detector.') for k in
                   checkpoint['state_dict'])


def test_resume_mid_cycle_reaches_the_same_selections(finished_run,
                                                      tmp_path):
    cfg, saved = finished_run
    resumed = copy.deepcopy(cfg)
    resumed.work_dir = str(tmp_path / 'resumed')
    resumed.resume = True
    resumed.load_from = osp.join(cfg.work_dir, 'iter_4.pth')  # cycle 1
    Runner.from_cfg(resumed).train()
    again = states(resumed.work_dir)
    assert sorted(again) == ['cycle_2.json', 'final.json']
    for name in ('cycle_2.json', 'final.json'):
        assert again[name]['labelled'] == saved[name]['labelled']
        assert again[name]['pseudo'] == saved[name]['pseudo']
    assert again['final.json']['history'] == saved['final.json']['history']


def test_failed_cycle_keeps_the_written_pool_state(shapes_tiny, tmp_path,
                                                   monkeypatch):
    import mmext.engine.runner.active_learning_loop as loop_module
    cfg = tiny_al_cfg(shapes_tiny, str(tmp_path / 'run'),
                      acquisition=dict(rule='entropy', score_thr=0.02))
    calls = []
    real_select = loop_module.select

    def select_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('annotation server down')
        return real_select(*args, **kwargs)

    monkeypatch.setattr(loop_module, 'select', select_then_fail)
    with pytest.raises(RuntimeError, match='annotation server down'):
        Runner.from_cfg(cfg).train()
    folder = osp.join(cfg.work_dir, 'pool_state')
    assert sorted(os.listdir(folder)) == ['cycle_0.json', 'cycle_1.json']
    with open(osp.join(folder, 'cycle_1.json')) as f:
        assert len(json.load(f)['labelled']) == 6


@pytest.mark.parametrize('field, value, match', [
    ('budget', 7, 'train_cfg.budget=7'),
    ('initial_labeled', 17, 'train_cfg.initial_labeled=17'),
    ('initial_labeled', 1.5, 'train_cfg.initial_labeled=1.5'),
    ('acquisition', dict(rule='margin'), 'acquisition.rule'),
])
def test_bad_settings_name_the_field(shapes_tiny, tmp_path, field, value,
                                     match):
    cfg = tiny_al_cfg(shapes_tiny, str(tmp_path / 'run'), **{field: value})
    with pytest.raises(ValueError, match=match):
        Runner.from_cfg(cfg).train()


def test_odd_batch_and_foreign_pool_state_are_refused(shapes_tiny, tmp_path):
    cfg = tiny_al_cfg(shapes_tiny, str(tmp_path / 'odd'))
    cfg.train_dataloader.batch_size = 3
    with pytest.raises(ValueError, match='train_dataloader.batch_size=3'):
        Runner.from_cfg(cfg).train()
    foreign = tmp_path / 'foreign.json'
    foreign.write_text(json.dumps(dict(
        format_version=1, seed=0, cycle=0, pool_ids=list(range(1000, 1016)),
        labelled=[1000, 1001], pseudo={}, scores={}, history=[])))
    cfg = tiny_al_cfg(shapes_tiny, str(tmp_path / 'foreign'),
                      init_pool_state=str(foreign))
    with pytest.raises(ValueError, match='train_cfg.init_pool_state'):
        Runner.from_cfg(cfg).train()


def _ddp_run(rank, world_size, data_root, work_dir):
    import mmext.engine.runner.active_learning.acquisition as acquisition
    scored = []
    real = acquisition.DataLoader

    def counting_loader(dataset, *args, **kwargs):
        scored.append(len(dataset))
        return real(dataset, *args, **kwargs)

    acquisition.DataLoader = counting_loader
    cfg = tiny_al_cfg(data_root, work_dir,
                      acquisition=dict(rule='inconsistency', score_thr=0.02),
                      pseudo_label=dict(score_thr=0.05))
    cfg.launcher = 'pytorch'
    runner = Runner.from_cfg(cfg)
    runner.train()
    state = runner.train_loop.state.to_dict()
    return dict(state=state, scored=scored)


def test_ddp_scores_in_shards_and_agrees_on_the_pool(shapes_tiny, tmp_path):
    results = run_distributed(_ddp_run, 2,
                              args=(shapes_tiny, str(tmp_path / 'ddp')),
                              timeout=300)
    assert results[0]['state'] == results[1]['state']
    # 12 then 10 unlabelled images, half on each rank.
    assert results[0]['scored'] == [6, 5] and results[1]['scored'] == [6, 5]
    assert len(results[0]['state']['labelled']) == 8
