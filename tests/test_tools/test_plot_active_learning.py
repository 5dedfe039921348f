"""tools/analysis_tools/plot_active_learning.py on pool-state files written
as ActiveLearningLoop writes them."""
import os.path as osp

from mmext.engine.runner.active_learning.pool_state import PoolState
from mmext.testing.tools import load_tool


def write_run(root, name, values, counts=(20, 30, 40)):
    state = PoolState(seed=0, cycle=len(values) - 1, pool_ids=list(range(50)),
                      labelled=list(range(counts[-1])))
    state.history = [
        dict(cycle=c, num_labelled=n, num_pseudo=0,
             metrics={'coco/bbox_mAP_50': v})
        for c, (n, v) in enumerate(zip(counts, values))
    ]
    work_dir = osp.join(str(root), name)
    state.write(osp.join(work_dir, 'pool_state', 'final.json'))
    return work_dir


def test_table_plot_and_labelling_cost(tmp_path, capsys):
    random = [write_run(tmp_path, 'r0', [0.30, 0.40, 0.50]),
              write_run(tmp_path, 'r1', [0.30, 0.40, 0.50])]
    # Cycle 0 trains the same initial set: equal there, not compared.
    ours = [write_run(tmp_path, 'o0', [0.30, 0.50, 0.60]),
            write_run(tmp_path, 'o1', [0.30, 0.54, 0.62])]
    worse = [write_run(tmp_path, 'w0', [0.30, 0.38, 0.55])]
    out = str(tmp_path / 'curves.png')
    tool = load_tool('analysis_tools/plot_active_learning.py')
    status = tool.main(['--run', 'random=' + ','.join(random), '--run',
                        'ours=' + ','.join(ours), '--run',
                        'worse=' + worse[0], '--reference', 'random',
                        '--out', out])
    assert status == 0
    text = capsys.readouterr().out
    # ours' mean (0.30, 0.52, 0.61) reaches random's last 0.50 at
    # 20 + 10 * 0.20 / 0.22 = 29.1 labelled: 73 % of 40.
    assert '| ours | 30.0 | 52.0 | 61.0 | 60.0 / 62.0 | yes | 29 (73 %) |' \
        in text
    # Above random at 40 labelled but not at 30: 'no'; it reaches 0.50
    # at 30 + 10 * 0.12 / 0.17 = 37.1 labelled.
    assert '| worse | 30.0 | 38.0 | 55.0 | 55.0 | no | 37 (93 %) |' in text
    assert '| random | 30.0 | 40.0 | 50.0 | 50.0 / 50.0 | - | 40 |' in text
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_missing_run_and_metric_are_named(tmp_path, capsys):
    tool = load_tool('analysis_tools/plot_active_learning.py')
    out = str(tmp_path / 'x.png')
    assert tool.main(['--run', f'a={tmp_path}/nothing', '--out', out]) == 1
    assert 'no finished run' in capsys.readouterr().err
    run = write_run(tmp_path, 'r0', [0.3, 0.4, 0.5])
    assert tool.main(['--run', f'a={run}', '--metric', 'coco/bbox_mAP',
                      '--out', out]) == 1
    assert "--metric 'coco/bbox_mAP'" in capsys.readouterr().err
    assert not osp.exists(out)
