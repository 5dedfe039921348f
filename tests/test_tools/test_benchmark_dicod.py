"""tools/analysis_tools/benchmark_dicod.py end to end on the tiny Shapes
set with a random teacher: one row per variant, the student alone at
ratio 1, and the distilled variants slower than the student alone."""
import os.path as osp

from mmext.testing.tools import REPO, load_tool

CONFIG = osp.join(
    REPO, 'configs/dicod/dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-'
    '128px.py')


def test_benchmark_rows(shapes_tiny, capsys):
    tool = load_tool('analysis_tools/benchmark_dicod.py')
    assert tool.main([
        CONFIG, '--repeats', '3', '--batches', '2', '--threads', '1',
        '--random-teacher', '--cfg-options',
        f'train_dataloader.dataset.data_root={shapes_tiny}/',
        'train_dataloader.batch_size=2'
    ]) == 0
    lines = capsys.readouterr().out.split('|---|---:|---:|')[1].strip()
    rows = [[c.strip() for c in line.strip('|').split('|')]
            for line in lines.splitlines()]
    assert [r[0] for r in rows] == [
        'student alone', '+KD_cls', '+KD_loc', '+both'
    ]
    ratios = [float(r[2]) for r in rows]
    assert ratios[0] == 1.0
    # The teacher's passes cost time on top of the student's step.
    assert ratios[3] > 1.0 and ratios[2] > 1.0
