# Copyright (c) mmext contributors. All rights reserved.
"""Evaluate fused point clouds against DTU-style ground-truth points.

Usage::

    python tools/mvs/eval_point_clouds.py PRED_DIR DATA_ROOT \\
        [--method cvpmvsnet] [--min-spacing 0.2] [--outlier-cut 20] \\
        [--seed 0] [--meta META_JSON] [--out RESULTS_JSON [--overwrite]]

Every ``PRED_DIR/{method}{N:03d}_l3.ply`` (``tools/mvs/fuse_depths.py``'s
output) is compared with ``DATA_ROOT/Points/stl/stl{N:03d}_total.ply``
(DTU's structured-light points, or a Shapes-MVS test root's) by
:func:`mmext.evaluation.point_cloud_metrics`: the reconstruction is thinned
to ``--min-spacing``; accuracy is the mean distance from it to the ground
truth, completeness the mean distance from the ground truth to it, each
over the distances below ``--outlier-cut``; overall is their mean (Aanaes
et al., "Large-Scale Data for Multiple-View Stereopsis", IJCV 2016). DTU's
observability and ground-plane masks are not applied (see that function).
The table lists every scan and the mean over scans (as DTU's
``ComputeStat_web.m``).

Scale-free numbers: when a ``meta.json`` gives each scan's extent (its
``scans: {scan: {extent: ...}}``, or a Shapes-MVS output's ``per_scan:
{scan: {extent_mm: ...}}``), the three numbers divided by it are added.
The file is ``--meta``, else ``DATA_ROOT/meta.json``, else the one in
``DATA_ROOT``'s parent folder (a Shapes-MVS output holds its test root).

``--out`` writes the settings, the per-scan numbers and the means as JSON
(atomically; an existing file only with ``--overwrite``). Exits with
status 1 and a message naming the file when a prediction has no ground
truth, when ``PRED_DIR`` holds no ``{method}NNN_l3.ply`` or on unreadable
input.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO)

METRICS = ('accuracy', 'completeness', 'overall')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='DTU accuracy / completeness of fused point clouds')
    parser.add_argument('pred_dir', help='folder of {method}NNN_l3.ply')
    parser.add_argument('data_root',
                        help='root holding Points/stl/stlNNN_total.ply')
    parser.add_argument('--method', default='cvpmvsnet',
                        help='method part of the PLY names')
    parser.add_argument('--min-spacing', type=float, default=0.2,
                        help='thinning spacing (DTU: 0.2 mm; 0: off)')
    parser.add_argument('--outlier-cut', type=float, default=20.0,
                        help='distances from this value on are outliers '
                        '(DTU: 20 mm)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the thinning order')
    parser.add_argument('--meta', default=None,
                        help='meta.json with per-scan extents')
    parser.add_argument('--out', default=None, help='results JSON')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--workers', type=int, default=-1,
                        help='KD-tree threads (-1: all cores)')
    return parser.parse_args(argv)


def find_predictions(pred_dir: str, method: str) -> Dict[int, str]:
    """``{scan number: path}`` of the ``{method}NNN_l3.ply`` files."""
    if not osp.isdir(pred_dir):
        raise FileNotFoundError(f'pred_dir: {pred_dir!r} is not a folder')
    pattern = re.compile(re.escape(method) + r'(\d{3,})_l3\.ply')
    found = {}
    for name in sorted(os.listdir(pred_dir)):
        match = pattern.fullmatch(name)
        if match:
            found[int(match.group(1))] = osp.join(pred_dir, name)
    if not found:
        raise FileNotFoundError(
            f'pred_dir: no {method}NNN_l3.ply in {pred_dir!r}; run '
            'tools/mvs/fuse_depths.py first (or pass --method)')
    return found


def read_extents(data_root: str, meta: Optional[str]) -> Dict[str, float]:
    """Per-scan extents from a ``meta.json`` (empty if there is none)."""
    if meta is None:
        for candidate in (osp.join(data_root, 'meta.json'),
                          osp.join(osp.dirname(osp.abspath(data_root)),
                                   'meta.json')):
            if osp.isfile(candidate):
                meta = candidate
                break
        else:
            return {}
    elif not osp.isfile(meta):
        raise FileNotFoundError(f'--meta: no file {meta!r}')
    with open(meta, encoding='utf-8') as handle:
        content = json.load(handle)
    extents = {}
    for key, field in (('scans', 'extent'), ('per_scan', 'extent_mm')):
        table = content.get(key) if isinstance(content, dict) else None
        if not isinstance(table, dict):
            continue
        for scan, entry in table.items():
            if isinstance(entry, dict) and entry.get(field):
                extents.setdefault(scan, float(entry[field]))
    return extents


def evaluate(args: argparse.Namespace) -> dict:
    """The results of every prediction of ``args.pred_dir``."""
    from mmext.datasets.dtu_io import DTULayout
    from mmext.evaluation import point_cloud_metrics
    from mmext.mvs import read_point_cloud

    predictions = find_predictions(args.pred_dir, args.method)
    layout = DTULayout(args.data_root)
    missing = [layout.points_file(n) for n in predictions
               if not osp.isfile(layout.points_file(n))]
    if missing:
        raise FileNotFoundError(
            f'data_root: no ground truth {missing[0]!r}'
            f'{f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""}'
            '; pass the root holding Points/stl/ (a Shapes-MVS output: its '
            'test/ folder)')
    extents = read_extents(args.data_root, args.meta)
    scans = {}
    for number, path in predictions.items():
        pred, _ = read_point_cloud(path)
        gt, _ = read_point_cloud(layout.points_file(number))
        try:
            result = point_cloud_metrics(
                pred, gt, min_spacing=args.min_spacing,
                outlier_cut=args.outlier_cut, seed=args.seed,
                workers=args.workers)
        except ValueError as exc:
            raise ValueError(f'{path}: {exc}') from None
        extent = extents.get(f'scan{number}')
        if extent:
            result['extent'] = extent
            for key in METRICS:
                result[f'{key}_rel'] = result[key] / extent
        scans[f'scan{number}'] = result
    keys = [k for k in (*METRICS, *(f'{m}_rel' for m in METRICS))
            if all(k in r for r in scans.values())]
    mean = {k: sum(r[k] for r in scans.values()) / len(scans) for k in keys}
    settings = dict(method=args.method, min_spacing=args.min_spacing,
                    outlier_cut=args.outlier_cut, seed=args.seed)
    return dict(settings=settings, scans=scans, mean=mean)


def format_table(results: dict) -> str:
    """Per-scan rows and the mean row."""
    relative = 'accuracy_rel' in results['mean']
    header = ['scan', 'pred pts', 'gt pts', 'acc', 'comp', 'overall']
    if relative:
        header += ['acc/ext', 'comp/ext', 'overall/ext']
    rows = []
    for scan, r in results['scans'].items():
        row = [scan, str(r['num_pred']), str(r['num_gt'])]
        row += [f'{r[k]:.4f}' for k in METRICS]
        if relative:
            row += [f'{r[k + "_rel"]:.6f}' if k + '_rel' in r else '-'
                    for k in METRICS]
        rows.append(row)
    mean = results['mean']
    row = ['mean', '', ''] + [f'{mean[k]:.4f}' for k in METRICS]
    if relative:
        row += [f'{mean[k + "_rel"]:.6f}' for k in METRICS]
    rows.append(row)
    widths = [max(len(x[i]) for x in [header] + rows)
              for i in range(len(header))]

    def line(cells):
        return '  '.join(c.rjust(w) if i else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    rule = '-' * len(line(header))
    return '\n'.join([line(header), rule] + [line(r) for r in rows[:-1]] +
                     [rule, line(rows[-1])])


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmext.utils.atomic import atomic_write_json
    try:
        if args.out and osp.exists(args.out) and not args.overwrite:
            raise FileExistsError(f'--out: {args.out!r} exists; pass '
                                  '--overwrite to replace it')
        results = evaluate(args)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(format_table(results))
    if args.out:
        atomic_write_json(args.out, results)
        print(f'results written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
