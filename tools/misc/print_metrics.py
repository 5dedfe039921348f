# Copyright (c) mmext contributors. All rights reserved.
"""Print the last validation metrics of the newest run in a work dir.

Usage::

    python tools/misc/print_metrics.py WORK_DIR [--json]

Reads MMEngine's ``LocalVisBackend`` scalars
(``WORK_DIR/<timestamp>/vis_data/scalars.json``, one JSON object a line) of
the newest run that has validation entries; ``*.log.json`` files (one JSON
object a line with ``"mode": "val"``) are read too. Training lines (they
carry ``lr``/``iter``/``epoch``) are skipped. Exits with status 1 and a
message when no validation metrics are found.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

#: Keys of a validation line that are bookkeeping, not metrics.
NON_METRIC_KEYS = ('step', 'time', 'data_time', 'mode', 'epoch', 'iter',
                   'memory')


def find_log_files(work_dir: str) -> List[str]:
    """Return the scalar logs of ``work_dir``, newest first.

    Args:
        work_dir (str): A runner's work directory.

    Returns:
        list[str]: ``*/vis_data/scalars.json`` and ``*.log.json`` files
        (also one folder level down), sorted by modification time.
    """
    patterns = ('*/vis_data/scalars.json', '*.log.json', '*/*.log.json')
    files = set()
    for pattern in patterns:
        files.update(glob.glob(osp.join(work_dir, pattern)))
    return sorted(files, key=osp.getmtime, reverse=True)


def _is_val_line(entry: Dict) -> bool:
    """Whether a JSON line holds validation metrics."""
    if 'mode' in entry:
        return entry['mode'] == 'val'
    keys = list(entry)
    if any(key.startswith('val/') for key in keys):
        return True
    if any(key.startswith('train/') for key in keys):
        return False
    if 'iter' in entry or 'epoch' in entry:
        return False
    if any(key == 'lr' or key.endswith('lr') or key.startswith('loss')
           for key in keys):
        return False
    return any(key not in NON_METRIC_KEYS for key in keys)


def last_val_metrics(path: str) -> Optional[Tuple[Dict, Optional[int]]]:
    """Return ``(metrics, step)`` of the last validation line in ``path``.

    Args:
        path (str): A JSON-lines scalar log.

    Returns:
        tuple | None: The metrics (without bookkeeping keys and without a
        ``val/`` prefix) and their step (epoch or iteration), or ``None``.
    """
    found = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and _is_val_line(entry):
                found = entry
    if found is None:
        return None
    step = found.get('step', found.get('epoch', found.get('iter')))
    metrics = {}
    for key, value in found.items():
        name = key[len('val/'):] if key.startswith('val/') else key
        if name not in NON_METRIC_KEYS:
            metrics[name] = value
    return metrics, step


def format_metrics(metrics: Dict, step: Optional[int], path: str) -> str:
    """Format the metrics, one ``name: value`` a line."""
    lines = [f'Validation metrics (step {step}) from {path}:']
    width = max(len(name) for name in metrics)
    for name, value in metrics.items():
        if isinstance(value, float):
            value = f'{value:.4f}'
        lines.append(f'  {name:<{width}}  {value}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description='Print the last validation metrics of a work dir')
    parser.add_argument('work_dir', help='the run\'s work directory')
    parser.add_argument(
        '--json', action='store_true', help='print the metrics as JSON')
    args = parser.parse_args(argv)

    if not osp.isdir(args.work_dir):
        print(f'error: work dir not found: {args.work_dir}', file=sys.stderr)
        return 1
    files = find_log_files(args.work_dir)
    for path in files:
        result = last_val_metrics(path)
        if result is None:
            continue
        metrics, step = result
        if args.json:
            print(json.dumps(dict(step=step, metrics=metrics, file=path)))
        else:
            print(format_metrics(metrics, step, path))
        return 0
    where = (', '.join(files) if files else
             f'no {osp.join(args.work_dir, "*/vis_data/scalars.json")} or '
             '*.log.json files')
    print(
        f'error: no validation metrics found in {args.work_dir} ({where}). '
        'Did the run reach a validation epoch, and does the config log with '
        "visualizer=dict(vis_backends=[dict(type='LocalVisBackend')])?",
        file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
