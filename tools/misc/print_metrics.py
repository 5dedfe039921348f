# Copyright (c) mmext contributors. All rights reserved.
"""Print the last validation metrics of the newest run in a work dir.

Usage::

    python tools/misc/print_metrics.py WORK_DIR [--json] [--config CONFIG]

With ``--config``, each metric that the config's entry in its
``metafile.yml`` documents (``Range``: the lowest and highest value over
the seeds in ``Seeds``) is printed beside that range, with a clear line
when the result falls outside it.

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

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Keys of a validation line that are bookkeeping, not metrics.
NON_METRIC_KEYS = ('step', 'time', 'data_time', 'mode', 'epoch', 'iter',
                   'memory')


def find_log_files(work_dir: str) -> List[str]:
    """Return the scalar logs of ``work_dir``, newest first.

    Args:
        work_dir (str): A runner's work directory.

    Returns:
        list[str]: ``*/vis_data/scalars.json`` and ``*.log.json`` files
        (also one folder level down), newest first, then the metrics files
        that ``tools/test.py`` writes (``TIMESTAMP/TIMESTAMP.json``), newest
        first: a training run's own validation wins over a test run kept
        in the same folder.
    """
    def newest_first(patterns):
        files = set()
        for pattern in patterns:
            files.update(glob.glob(osp.join(work_dir, pattern)))
        return sorted(files, key=osp.getmtime, reverse=True)

    return (newest_first(('*/vis_data/scalars.json', '*.log.json',
                          '*/*.log.json')) +
            newest_first(('[0-9]*_[0-9]*/[0-9]*_[0-9]*.json', )))


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


def _from_configs_dir(path: str) -> str:
    """``configs/<paper>/<name>.py`` of a config path, wherever the
    checkout lies (the whole normalised path if it has no ``configs``)."""
    parts = osp.normpath(osp.abspath(path)).split(osp.sep)
    if 'configs' not in parts:
        return osp.normpath(path)
    last = len(parts) - 1 - parts[::-1].index('configs')
    return '/'.join(parts[last:])


def documented_ranges(config: str,
                      repo: Optional[str] = None) -> Optional[Dict]:
    """The documented spread of a config's Shapes results.

    Looks the config up in the metafiles that ``model-index.yml`` imports
    and returns the first Results entry that has a ``Range``.

    Args:
        config (str): Config path, relative to the repository or absolute.
        repo (str, optional): The repository root; None is this tool's.

    Returns:
        dict | None: ``{'seeds': [...], 'range': {log key: (low, high)}}``,
        or None when no metafile documents a range for the config.
    """
    import yaml
    repo = repo or REPO
    index = osp.join(repo, 'model-index.yml')
    if not osp.isfile(index):
        return None
    wanted = _from_configs_dir(config)
    with open(index, encoding='utf-8') as f:
        imports = yaml.safe_load(f).get('Import', [])
    for metafile in imports:
        with open(osp.join(repo, metafile), encoding='utf-8') as f:
            models = yaml.safe_load(f).get('Models', [])
        for model in models:
            if _from_configs_dir(model.get('Config', '')) != wanted:
                continue
            results = model.get('Results') or []
            for result in results if isinstance(results, list) else [results]:
                if 'Range' in result:
                    return dict(
                        seeds=list(result.get('Seeds', [])),
                        range={k: (float(v[0]), float(v[1]))
                               for k, v in result['Range'].items()})
    return None


def format_ranges(metrics: Dict, documented: Dict) -> List[str]:
    """One line per documented metric: the result beside its range.

    Args:
        metrics (dict): Logged metrics (log key -> value).
        documented (dict): From :func:`documented_ranges`.

    Returns:
        list[str]: Lines; a result outside its range is marked
        ``OUTSIDE``.
    """
    seeds = documented['seeds']
    if not documented['range']:
        return []
    over = (f'seed {seeds[0]}, a single run' if len(seeds) == 1 else
            f'over seeds {", ".join(str(s) for s in seeds)}')
    lines = [f'Documented for this config ({over}):']
    for key, (low, high) in documented['range'].items():
        value = metrics.get(key)
        if value is None:
            lines.append(f'  {key}: not logged by this run '
                         f'(documented {low:.6g}-{high:.6g})')
            continue
        # Logs hold float32 values (75.37 is logged as 75.3700027...).
        slack = 1e-6 * max(abs(low), abs(high), 1.0)
        inside = low - slack <= float(value) <= high + slack
        verdict = ('within it' if inside else
                   'OUTSIDE the documented range: compare the seed, the '
                   'data preset and the schedule with docs/benchmarks.md')
        lines.append(f'  {key}: {float(value):.6g}, documented '
                     f'{low:.6g}-{high:.6g}: {verdict}')
    return lines


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description='Print the last validation metrics of a work dir')
    parser.add_argument('work_dir', help='the run\'s work directory')
    parser.add_argument(
        '--json', action='store_true', help='print the metrics as JSON')
    parser.add_argument(
        '--config',
        help='print each metric beside the range that the config\'s '
        'metafile.yml documents')
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
            documented = (documented_ranges(args.config)
                          if args.config else None)
            if documented is not None and documented['range']:
                print('\n'.join(format_ranges(metrics, documented)))
            elif args.config:
                print(f'No documented range for {args.config} in the '
                      'metafiles of model-index.yml.')
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
