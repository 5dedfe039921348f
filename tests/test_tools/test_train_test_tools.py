"""End-to-end tests of tools/train.py, tools/test.py and tools/misc.

The runs use the toy components of ``mmext.testing.toy`` (a two-layer MLP on
points), written into a config file in ``tmp_path``; the training and testing
commands run as subprocesses, the way users run them. Error paths run
in-process through the tools' ``main(argv)``.
"""
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmext.testing.tools import load_tool as _load_tool
from mmext.testing.toy import get_toy_cfg, write_toy_annotations

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


# The tools' parse_args set LOCAL_RANK; undo it after each test.
pytestmark = pytest.mark.usefixtures('restore_local_rank')


def _write_config(tmp_path, data_root, **overrides) -> str:
    """Write a toy config reading annotation files below ``data_root``."""
    cfg = get_toy_cfg(
        str(tmp_path / 'work_dir_unused'),
        train_dataset=dict(
            type='ToyDataset', data_root=data_root, ann_file='train.json'),
        val_dataset=dict(
            type='ToyDataset', data_root=data_root, ann_file='val.json'))
    cfg.pop('work_dir')
    cfg.update(overrides)
    path = str(tmp_path / 'toy_cfg.py')
    Config(cfg).dump(path)
    return path


def _run(args, timeout=120):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args,
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    return proc


def _check(proc):
    assert proc.returncode == 0, (
        f'exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n'
        f'stderr:\n{proc.stderr[-3000:]}')
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 2 epochs with tools/train.py once for the tests below."""
    tmp_path = tmp_path_factory.mktemp('tools')
    data_root = tmp_path / 'data'
    write_toy_annotations(str(data_root / 'train.json'), 32, seed=0)
    write_toy_annotations(str(data_root / 'val.json'), 16, seed=1)
    config = _write_config(tmp_path, str(data_root))
    work_dir = str(tmp_path / 'work_dir')
    out = _check(
        _run(['tools/train.py', config, '--work-dir', work_dir]))
    return dict(config=config, work_dir=work_dir, log=out,
                tmp_path=tmp_path)


def test_train_writes_checkpoints(trained):
    work_dir = trained['work_dir']
    for name in ('epoch_1.pth', 'epoch_2.pth', 'last_checkpoint'):
        assert osp.exists(osp.join(work_dir, name)), name
    assert 'toy/accuracy' in trained['log']


def test_resume_continues(trained):
    work_dir = trained['work_dir']
    out = _check(
        _run([
            'tools/train.py', trained['config'], '--work-dir', work_dir,
            '--resume', '--cfg-options', 'train_cfg.max_epochs=3'
        ]))
    assert 'resumed epoch: 2' in out.lower() or 'Resumed' in out, out[-2000:]
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_3.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['epoch'] == 3
    # 32 samples / batch 4 = 8 iterations an epoch, continued, not restarted.
    assert ckpt['meta']['iter'] == 24


def test_test_tool_prints_metrics_and_dumps(trained):
    work_dir = trained['work_dir']
    out_pkl = osp.join(str(trained['tmp_path']), 'preds.pkl')
    out = _check(
        _run([
            'tools/test.py', trained['config'],
            osp.join(work_dir, 'epoch_2.pth'), '--work-dir', work_dir,
            '--out', out_pkl
        ]))
    assert 'toy/accuracy' in out
    with open(out_pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 16 and 'pred_label' in preds[0]


def test_print_metrics(trained, capsys):
    tool = _load_tool('misc/print_metrics.py')
    assert tool.main([trained['work_dir']]) == 0
    out = capsys.readouterr().out
    assert 'toy/accuracy' in out
    assert 'step 2' in out or 'step 3' in out


def test_print_metrics_without_logs(tmp_path, capsys):
    tool = _load_tool('misc/print_metrics.py')
    assert tool.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert 'no validation metrics found' in err
    assert tool.main([str(tmp_path / 'missing')]) == 1


def test_print_metrics_reads_lines(tmp_path, capsys):
    run_dir = tmp_path / '20240101_000000' / 'vis_data'
    run_dir.mkdir(parents=True)
    (run_dir / 'scalars.json').write_text(
        '{"lr": 0.1, "loss": 0.5, "epoch": 1, "iter": 4, "step": 4}\n'
        '{"mIoU": 40.0, "aAcc": 80.0, "data_time": 0.1, "time": 0.2, '
        '"step": 1}\n'
        '{"lr": 0.1, "loss": 0.4, "epoch": 2, "iter": 8, "step": 8}\n'
        '{"mIoU": 55.5, "aAcc": 85.0, "data_time": 0.1, "time": 0.2, '
        '"step": 2}\n')
    tool = _load_tool('misc/print_metrics.py')
    assert tool.main([str(tmp_path), '--json']) == 0
    out = capsys.readouterr().out
    assert '"mIoU": 55.5' in out and '"step": 2' in out
    assert 'data_time' not in out


def test_print_metrics_reads_the_test_tools_result(tmp_path, capsys):
    # tools/test.py writes its metrics as one JSON line in
    # WORK_DIR/TIMESTAMP/TIMESTAMP.json (no vis_data scalars)
    run_dir = tmp_path / '20240101_000000'
    run_dir.mkdir()
    (run_dir / '20240101_000000.json').write_text(
        '{"mvs/mae": 5.9, "mvs/within_1.0pct_range": 0.836, '
        '"data_time": 0.1, "time": 1.0}')
    (run_dir / 'config.json').write_text('{"not": "metrics"}')
    tool = _load_tool('misc/print_metrics.py')
    assert tool.main([str(tmp_path), '--json']) == 0
    out = capsys.readouterr().out
    assert '"mvs/within_1.0pct_range": 0.836' in out
    assert 'data_time' not in out and '"not"' not in out
    # a training run's validation in the same folder comes first
    scalars = tmp_path / '20230101_000000' / 'vis_data'
    scalars.mkdir(parents=True)
    (scalars / 'scalars.json').write_text(
        '{"mvs/mae": 9.0, "data_time": 0.1, "time": 0.2, "step": 40}\n')
    assert tool.main([str(tmp_path), '--json']) == 0
    out = capsys.readouterr().out
    assert '"mvs/mae": 9.0' in out and '"step": 40' in out


def test_print_config(trained, capsys):
    tool = _load_tool('misc/print_config.py')
    assert tool.main([trained['config'], '--cfg-options',
                      'train_cfg.max_epochs=7']) == 0
    assert 'max_epochs=7' in capsys.readouterr().out


def test_missing_data_message(tmp_path, capsys):
    data_root = str(tmp_path / 'data' / 'shapes')
    config = _write_config(tmp_path, data_root)
    tool = _load_tool('train.py')
    assert tool.main([config, '--work-dir', str(tmp_path / 'wd')]) == 1
    err = capsys.readouterr().err
    assert osp.join(data_root, 'train.json') in err
    assert ('python tools/misc/make_shapes.py --preset demo '
            f'--out {data_root}') in err
    assert not (tmp_path / 'wd').exists()


def test_missing_data_subprocess_exit_status(tmp_path):
    data_root = 'data/shapes/_no_such_toy_data'  # relative to the repo
    config = _write_config(tmp_path, data_root, shapes_preset='tiny')
    proc = _run(['tools/test.py', config, config])
    assert proc.returncode == 1
    assert f'{data_root}/val.json' in proc.stderr
    assert ('python tools/misc/make_shapes.py --preset tiny '
            '--out data/shapes') in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU error')
def test_amp_on_cpu_is_a_clear_error(trained, capsys):
    tool = _load_tool('train.py')
    assert tool.main([trained['config'], '--amp']) == 1
    assert '--amp needs a GPU' in capsys.readouterr().err


def test_cli_switches(trained):
    train_tool = _load_tool('train.py')
    args = train_tool.parse_args([
        trained['config'], '--resume', 'x.pth', '--auto-scale-lr',
        '--local-rank', '0'
    ])
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        train_tool.build_cfg(args)
    args.auto_scale_lr = False
    with pytest.raises(FileNotFoundError, match='x.pth'):
        train_tool.build_cfg(args)
    args.resume = osp.join(trained['work_dir'], 'epoch_1.pth')
    cfg = train_tool.build_cfg(args)
    assert cfg.resume is True and cfg.load_from == args.resume
    assert cfg.work_dir == osp.join('./work_dirs', 'toy_cfg')

    test_tool = _load_tool('test.py')
    args = test_tool.parse_args([
        trained['config'],
        osp.join(trained['work_dir'], 'epoch_1.pth'), '--show-dir', 'vis'
    ])
    with pytest.raises(RuntimeError, match='visualization hook'):
        test_tool.build_cfg(args)
    cfg = Config.fromfile(trained['config'])
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg = test_tool.trigger_visualization_hook(cfg, args)
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.default_hooks.visualization.test_out_dir == 'vis'
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg = test_tool.trigger_visualization_hook(cfg, args)
    assert cfg.visualizer.save_dir == 'vis'


def _write_ranged_run(tmp_path, miou: float) -> str:
    """A work dir whose last validation logged ``mIoU``, and a repository
    whose metafile documents mIoU 60-64 over seeds 0, 1, 2 for a config."""
    run_dir = tmp_path / 'work' / '20240101_000000' / 'vis_data'
    run_dir.mkdir(parents=True)
    (run_dir / 'scalars.json').write_text(
        f'{{"mIoU": {miou}, "aAcc": 90.0, "step": 100}}\n')
    repo = tmp_path / 'repo'
    (repo / 'configs' / 'demo').mkdir(parents=True)
    (repo / 'configs' / 'demo' / 'demo.py').write_text('')
    (repo / 'model-index.yml').write_text(
        'Import:\n  - configs/demo/metafile.yml\n')
    (repo / 'configs' / 'demo' / 'metafile.yml').write_text(
        'Models:\n'
        '  - Name: demo\n'
        '    Config: configs/demo/demo.py\n'
        '    Results:\n'
        '      - Task: Semantic Segmentation\n'
        '        Dataset: Shapes\n'
        '        Metrics: {mIoU: 62.0}\n'
        '        Seeds: [0, 1, 2]\n'
        '        Range: {mIoU: [60.0, 64.0]}\n')
    return str(tmp_path / 'work'), str(repo)


def test_print_metrics_beside_the_documented_range(
        tmp_path, capsys, monkeypatch):
    tool = _load_tool('misc/print_metrics.py')
    work_dir, repo = _write_ranged_run(tmp_path, 61.5)
    documented = tool.documented_ranges(
        osp.join(repo, 'configs', 'demo', 'demo.py'), repo)
    assert documented == dict(seeds=[0, 1, 2], range={'mIoU': (60.0, 64.0)})
    lines = tool.format_ranges({'mIoU': 61.5}, documented)
    assert 'over seeds 0, 1, 2' in lines[0]
    assert 'mIoU: 61.5, documented 60-64: within it' in lines[1]
    outside = tool.format_ranges({'mIoU': 58.23}, documented)
    assert 'OUTSIDE the documented range' in outside[1]
    # a float32 log of the range's own end is inside it
    edge = float(torch.tensor(64.0 + 1e-4, dtype=torch.float32)) - 1e-4
    assert 'within it' in tool.format_ranges({'mIoU': 64.0000027},
                                             documented)[1]
    assert 'within it' in tool.format_ranges({'mIoU': edge}, documented)[1]
    assert 'OUTSIDE' in tool.format_ranges({'mIoU': 64.01}, documented)[1]
    assert 'not logged' in tool.format_ranges({}, documented)[1]
    # the command line: the result and its range
    monkeypatch.setattr(tool, 'REPO', repo)
    assert tool.main(
        [work_dir, '--config',
         osp.join(repo, 'configs', 'demo', 'demo.py')]) == 0
    out = capsys.readouterr().out
    assert 'mIoU: 61.5, documented 60-64: within it' in out


def test_every_demo_config_of_the_makefile_has_a_documented_range():
    tool = _load_tool('misc/print_metrics.py')
    with open(osp.join(REPO, 'Makefile'), encoding='utf-8') as f:
        makefile = f.read()
    demos = [line.split(':=')[1].strip() for line in makefile.splitlines()
             if line.split(':=')[0].strip().endswith('_DEMO')
             and ':=' in line]
    assert len(demos) >= 3
    for config in demos:
        documented = tool.documented_ranges(osp.join(REPO, config))
        assert documented and documented['range'], config
