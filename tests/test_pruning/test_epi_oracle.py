"""tools/analysis_tools/epi_oracle.py on the tiny Shapes preset: every run
of the grid trains, the table marks EPI's pick and the oracle's best, an
interrupted grid resumes, and the plot is written."""
import json
import os.path as osp
import subprocess
import sys

from ._models import REPO

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'epi_oracle.py')


def _run(config, work_dir):
    return subprocess.run([
        sys.executable, TOOL, config, '--epochs', '0', '1',
        '--finetune-epochs', '1', '--work-dir', work_dir
    ],
                          capture_output=True,
                          text=True,
                          cwd=REPO,
                          timeout=600)


def test_oracle_grid_tabulates_and_marks_epi(epi_cfg, tmp_path):
    cfg = epi_cfg(tmp_path / 'unused', max_epochs=2, latest_epoch=2)
    config = str(tmp_path / 'tiny_epi.py')
    cfg.dump(config)
    work_dir = str(tmp_path / 'oracle')
    done = _run(config, work_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(osp.join(work_dir, 'oracle.json')) as f:
        results = json.load(f)
    runs = results['runs']
    assert list(runs) == [
        'dense', 'epi', 'prune@0', 'prune@1', 'after-training'
    ]
    assert runs['dense'].get('pruned') is None
    assert runs['prune@0']['pruned']['epoch'] == 0.0
    assert runs['prune@1']['pruned']['epoch'] == 1.0
    assert runs['epi']['pruned']['reason'] in ('epi', 'fallback')
    assert runs['after-training']['epochs'] == 1
    for run in runs.values():
        assert 0 <= run['metric'] <= 100 and run['seconds'] > 0
    table = open(osp.join(work_dir, 'oracle.md')).read()
    assert '**EPI**' in table and 'oracle best' in table
    assert osp.getsize(osp.join(work_dir, 'oracle.png')) > 1000
    # a second call trains nothing and reports the same table
    again = _run(config, work_dir)
    assert again.returncode == 0
    assert again.stdout.count('done before, kept') == 5
    assert table.strip() in again.stdout
