"""tools/analysis_tools/benchmark_dicod.py end to end on the tiny Shapes
set with a random teacher: one row per variant, the student alone at
ratio 1, and each ratio the row's median over the student's. Whether the
teacher's passes make a step slower is a timing question for the
benchmark's recorded runs (docs/benchmarks.md), not for this test: with 3
repeats on a shared CPU, +KD_cls measured 0.99x once."""
import math
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
    medians = [float(r[1]) for r in rows]
    ratios = [float(r[2]) for r in rows]
    assert ratios[0] == 1.0
    assert all(m > 0 and math.isfinite(m) for m in medians)
    for median, ratio in zip(medians, ratios):
        # printed to 4 and 3 decimals
        assert abs(ratio - median / medians[0]) <= 2e-3 + 1e-4 / medians[0]
