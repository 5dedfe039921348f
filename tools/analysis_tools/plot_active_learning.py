"""Learning curves of active-learning runs: plot, table and the
labelling-cost comparison.

Each ``--run NAME=DIR[,DIR...]`` names a method and the work dirs of its
seeds (runs of ``mmext.ActiveLearningLoop``, each with
``pool_state/final.json``). The tool plots the metric against the number of
labelled images (mean over seeds, one standard deviation shaded), prints a
Markdown table (mean per cycle, the last cycle per seed) and, against the
``--reference`` method (e.g. random), whether each method is above it
after every acquisition (cycle 0, the same random initial set in every run,
is not compared) and how many labels it needs to reach the reference's final
metric (interpolated on its mean curve), the comparison of Elezi et al.
(CVPR 2022, arXiv 2106.11921).

Usage::

    python tools/analysis_tools/plot_active_learning.py \
        --run random=work_dirs/al/random_s0,work_dirs/al/random_s1 \
        --run product+pseudo=work_dirs/al/full_s0,work_dirs/al/full_s1 \
        --metric coco/bbox_mAP_50 --reference random \
        --out work_dirs/al/curves.png
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mmext.active_learning.curves import (LearningCurve,  # noqa: E402
                                          curve_of, labels_to_reach)
from mmext.visualization.active_learning_plot import \
    plot_learning_curves  # noqa: E402


def _run(text: str) -> tuple:
    name, sep, dirs = text.partition('=')
    if not sep or not name or not dirs:
        raise argparse.ArgumentTypeError(
            f'--run {text!r}: expected NAME=DIR[,DIR...]')
    return name, dirs.split(',')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot and compare active-learning learning curves.')
    parser.add_argument('--run', type=_run, action='append', required=True,
                        metavar='NAME=DIR[,DIR...]',
                        help='a method and the work dirs of its seeds')
    parser.add_argument('--metric', default='coco/bbox_mAP_50',
                        help='validation metric key (default: %(default)s)')
    parser.add_argument('--reference', default=None,
                        help='method to compare the others with (e.g. '
                        'random)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--title', default='Active learning')
    args = parser.parse_args(argv)
    names = [name for name, _ in args.run]
    if len(set(names)) != len(names):
        parser.error(f'--run: method names must differ, got {names}')
    if args.reference is not None and args.reference not in names:
        parser.error(f'--reference {args.reference!r} is not one of the '
                     f'--run names {names}')
    return args


def table(curves: Dict[str, LearningCurve], reference: Optional[str]) -> str:
    """The Markdown table of the curves (metric in percent)."""
    counts = next(iter(curves.values())).num_labelled
    head = ['method'] + [f'{n} labelled' for n in counts] + ['last cycle '
                                                             'per seed']
    extra = []
    if reference is not None:
        extra = [f'above {reference} after every acquisition',
                 f'labels to reach {reference}\'s last']
    lines = ['| ' + ' | '.join(head + extra) + ' |',
             '|' + '---|' * (len(head) + len(extra))]
    target = curves[reference].mean[-1] if reference else None
    for name, curve in curves.items():
        cells = [name] + [f'{100 * m:.1f}' for m in curve.mean]
        cells.append(' / '.join(f'{100 * v[-1]:.1f}' for v in curve.values))
        if reference is not None:
            ref = curves[reference]
            if name == reference:
                cells += ['-', f'{counts[-1]}']
            else:
                # Cycle 0 trains the same seeded initial set in every run.
                above = all(m > r for m, r in zip(curve.mean[1:],
                                                  ref.mean[1:]))
                needed = labels_to_reach(curve.num_labelled, curve.mean,
                                         target)
                cells.append('yes' if above else 'no')
                cells.append('not reached' if needed is None else
                             f'{needed:.0f} ({100 * needed / counts[-1]:.0f} '
                             '%)')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    curves = {}
    for name, dirs in args.run:
        paths = [osp.join(d, 'pool_state', 'final.json') for d in dirs]
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            print(f'--run {name}: no finished run at {missing} (a run '
                  'writes pool_state/final.json after its last cycle)',
                  file=sys.stderr)
            return 1
        try:
            curves[name] = curve_of(paths, args.metric)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
    counts = {tuple(c.num_labelled) for c in curves.values()}
    if len(counts) > 1:
        print(f'the methods were run with different schedules '
              f'(labelled counts {sorted(counts)}); compare like with like',
              file=sys.stderr)
        return 1
    plot_learning_curves(curves, args.metric, args.out, args.title)
    print(table(curves, args.reference))
    print(f'plot: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
