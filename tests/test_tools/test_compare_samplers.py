"""tools/analysis_tools/compare_samplers.py: what each sampler draws,
against the repeat-factor formula written out here, and the tool's
train-read-resume cycle through tools/train.py on the tiny long-tailed
Shapes set."""
import json
import math
import os
import os.path as osp
import subprocess

import numpy as np
import pytest

from mmext.testing.tools import REPO, load_tool, markdown_table_rows

RIO_CONFIG = osp.join(
    REPO, 'configs/rio/rfs-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_'
    'shapes-lt-128px.py')
CBD_CONFIG = osp.join(
    REPO, 'configs/rio/cbd-t0.1_faster-rcnn_r18-w32_fpn_1xb4-10e_'
    'shapes-lt-128px.py')
THRESHOLD = 0.1  # both configs' threshold


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/compare_samplers.py')


def tiny_config(base: str, data_root: str, out: str, wrapped: bool) -> str:
    """``base`` on the tiny long-tailed set: 1 epoch at batch 2, validated
    at its end, no worker processes."""
    train_set = f"dict(data_root='{data_root}/')"
    if wrapped:  # ClassBalancedDataset(dataset=...)
        train_set = f'dict(dataset={train_set})'
    text = f"""_base_ = '{base}'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset={train_set})
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root='{data_root}/'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='{data_root}/annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1))
"""
    with open(out, 'w') as f:
        f.write(text)
    return out


@pytest.fixture(scope='module')
def configs(shapes_tiny_long_tail, tmp_path_factory):
    folder = tmp_path_factory.mktemp('sampler_configs')
    return dict(
        rfs=tiny_config(RIO_CONFIG, shapes_tiny_long_tail,
                        str(folder / 'rfs-tiny.py'), wrapped=False),
        cbd=tiny_config(CBD_CONFIG, shapes_tiny_long_tail,
                        str(folder / 'cbd-tiny.py'), wrapped=True))


def reference_factors(ann_file: str, threshold: float):
    """Per training image with objects: r = max(1, max_c sqrt(t / f(c)))
    and its objects per class (0-based, in category-id order)."""
    with open(ann_file) as f:
        lvis = json.load(f)
    classes = sorted(c['id'] for c in lvis['categories'])
    objects = {}
    for ann in lvis['annotations']:
        counts = objects.setdefault(ann['image_id'],
                                    np.zeros(len(classes), np.int64))
        counts[classes.index(ann['category_id'])] += 1
    per_image = np.stack(list(objects.values()))
    fraction = (per_image > 0).sum(0) / len(per_image)
    class_factor = np.maximum(
        1.0, np.sqrt(threshold / np.maximum(fraction, 1e-12)))
    factors = np.array([class_factor[row > 0].max() for row in per_image])
    return factors, per_image


def test_class_balanced_dataset_rounds_up_every_epoch(
        tool, configs, shapes_tiny_long_tail):
    factors, objects = reference_factors(
        osp.join(shapes_tiny_long_tail, 'annotations/lvis_v1_train.json'),
        THRESHOLD)
    assert (factors > 1).any() and (factors % 1 > 0).any()
    repeats = np.ceil(factors)
    draws = tool.epoch_draws(tool.load_config(configs['cbd'], {}, 0), 3)
    for draw in draws:
        assert draw['images'] == repeats.sum()
        assert draw['objects'] == (repeats[:, None] * objects).sum(0).tolist()
        assert draw['iterations'] == math.ceil(repeats.sum() / 2)


def test_rio_sampler_rounds_stochastically_anew_each_epoch(
        tool, configs, shapes_tiny_long_tail):
    factors, objects = reference_factors(
        osp.join(shapes_tiny_long_tail, 'annotations/lvis_v1_train.json'),
        THRESHOLD)
    epochs = 400
    draws = tool.epoch_draws(tool.load_config(configs['rfs'], {}, 0), epochs)
    images = np.array([d['images'] for d in draws])
    assert images.min() >= np.floor(factors).sum()
    assert images.max() <= np.ceil(factors).sum()
    assert len(set(images.tolist())) > 1  # drawn anew, not fixed
    fraction = factors - np.floor(factors)
    sigma = math.sqrt((fraction * (1 - fraction)).sum() / epochs)
    assert abs(images.mean() - factors.sum()) < 4 * sigma
    shown = np.mean([d['objects'] for d in draws], axis=0)
    expected = (factors[:, None] * objects).sum(0)
    np.testing.assert_allclose(shown, expected, rtol=0.1)
    for draw in draws:
        assert draw['iterations'] == math.ceil(draw['images'] / 2)
    # The same seed draws the same epochs; another seed other ones.
    again = tool.epoch_draws(tool.load_config(configs['rfs'], {}, 0), 5)
    assert again == draws[:5]
    other = tool.epoch_draws(tool.load_config(configs['rfs'], {}, 1), 5)
    assert other != draws[:5]


def last_logged(work_dir: str, key: str) -> float:
    """``key`` of the last line of the run's scalars log that has it."""
    (path, ) = [
        osp.join(root, name) for root, _, names in os.walk(work_dir)
        for name in names if name == 'scalars.json'
    ]
    with open(path) as f:
        values = [json.loads(line).get(key) for line in f]
    return [v for v in values if v is not None][-1]


def test_trains_both_samplers_then_reads_them_back_without_training(
        tool, configs, tmp_path, monkeypatch):
    work_dir = str(tmp_path / 'compare')
    argv = [configs['rfs'], configs['cbd'], '--seeds', '0', '--work-dir',
            work_dir]
    assert tool.main(argv) == 0
    with open(osp.join(work_dir, 'compare.json')) as f:
        results = json.load(f)
    assert results['names'] == ['rfs', 'cbd']
    for name in ('rfs', 'cbd'):
        run = results['runs'][f'{name}-s0']
        run_dir = osp.join(work_dir, f'{name}-s0')
        for metric in tool.METRICS:
            assert run['metrics'][metric] == pytest.approx(
                last_logged(run_dir, metric))
        assert len(run['draws']) == 1 and run['seconds'] > 0
    assert results['runs']['cbd-s0']['draws'][0]['images'] > \
        results['dataset']['images']

    def no_training(*args, **kwargs):
        raise AssertionError('a finished run was trained again')

    monkeypatch.setattr(subprocess, 'run', no_training)
    os.remove(osp.join(work_dir, 'compare.md'))
    assert tool.main(argv) == 0
    with open(osp.join(work_dir, 'compare.md')) as f:
        report = f.read()
    rows = markdown_table_rows(report, '| wall-clock |')
    ap = 100 * results['runs']['cbd-s0']['metrics']['lvis/bbox_AP']
    assert ['cbd', '0', f'{ap:.1f}'] == rows[2][:3]
    assert 'rfs against cbd, means: AP' in report


def test_an_unfinished_run_is_resumed_with_the_seed_and_options(
        tool, configs, tmp_path, monkeypatch):
    work_dir = tmp_path / 'compare'
    run_dir = work_dir / 'rfs-s3'
    (run_dir / '20260101_000000' / 'vis_data').mkdir(parents=True)
    scalars = run_dir / '20260101_000000' / 'vis_data' / 'scalars.json'
    line = {m: 0.1 for m in tool.METRICS}
    scalars.write_text(json.dumps(dict(line, step=1)) + '\n')
    (run_dir / 'last_checkpoint').write_text('epoch_1.pth')
    calls = []

    def fake_train(command, **kwargs):
        calls.append(command)
        with open(scalars, 'a') as f:  # the resumed run's last validation
            f.write(json.dumps(dict(line, step=2, **{
                'lvis/bbox_APr': 0.25})) + '\n')
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, 'run', fake_train)
    argv = [configs['rfs'], '--seeds', '3', '--work-dir', str(work_dir),
            '--cfg-options', 'train_cfg.max_epochs=2']
    assert tool.main(argv) == 0
    (command, ) = calls
    assert command[-4:] == [
        '--cfg-options', 'randomness.seed=3', 'train_cfg.max_epochs=2',
        '--resume'
    ]
    with open(work_dir / 'compare.json') as f:
        run = json.load(f)['runs']['rfs-s3']
    assert run['metrics']['lvis/bbox_APr'] == 0.25
    assert len(run['draws']) == 2


def test_a_failed_training_names_its_work_dir(tool, configs, tmp_path,
                                               monkeypatch):
    monkeypatch.setattr(
        subprocess, 'run',
        lambda command, **kwargs: subprocess.CompletedProcess(command, 1))
    with pytest.raises(SystemExit, match='rfs-s0'):
        tool.main([configs['rfs'], '--seeds', '0', '--work-dir',
                   str(tmp_path)])
    assert not osp.exists(tmp_path / 'compare.json')


def test_names_must_be_one_per_config_and_distinct(tool, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args([RIO_CONFIG, CBD_CONFIG, '--names', 'a'])
    assert '--names: 1 names for 2 configs' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args([RIO_CONFIG, RIO_CONFIG])
    assert 'repeat a name' in capsys.readouterr().err
