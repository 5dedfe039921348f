"""tools/analysis_tools/benchmark_segformer.py end to end on a 64 x 64
image (B0, one round): every table row, the per-round ratio column and the
per-stage breakdown at the token counts of each stage."""
from mmext.testing.tools import load_tool, markdown_table_rows


def test_benchmark_rows_and_per_stage_breakdown(capsys):
    tool = load_tool('analysis_tools/benchmark_segformer.py')
    assert tool.main(['--archs', 'b0', '--size', '64', '64', '--repeats',
                      '2', '--threads', '1', '--per-stage']) == 0
    out = capsys.readouterr().out
    rows = markdown_table_rows(out, 'per-round speed-ups |')
    assert [r[1] for r in rows] == [
        'forward, batch 1', 'train step, batch 2', 'train memory (MiB)',
        'segmentor forward, batch 1'
    ]
    for row in rows:
        if 'memory' in row[1]:
            assert row[5] == '' and float(row[2]) > 0
            continue
        low, high = (float(x) for x in row[5].rstrip('x').split('-'))
        assert 0 < low <= high
        # the median ratio lies within the per-round range
        assert low - 1e-2 <= float(row[4].rstrip('x')) <= high + 1e-2
    stages = markdown_table_rows(out, 'block speed-up (per-round range) |')
    # B0 depths (2, 2, 2, 2); strides 4, 8, 16, 32 on 64 x 64
    assert [(r[0], r[1], r[2]) for r in stages] == [
        ('1', '2', '256'), ('2', '2', '64'), ('3', '2', '16'),
        ('4', '2', '4')
    ]
