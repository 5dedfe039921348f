"""The output directory of a data generator (Shapes, Shapes-MVS), written
atomically.

A generator writes everything into a fresh sibling ``OUT.tmp-XXXX`` and
renames it to ``OUT`` only when it is complete (:func:`write_output`), so
an interrupted run never leaves a partial data set under ``OUT``. An
existing ``OUT`` is replaced only if it is empty or a previous output of
the same generator: its ``meta.json`` names the generator
(:func:`check_out_dir`).
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Dict, Optional

import numpy as np

#: The generator's record at the top of every output.
META_FILE = 'meta.json'


def read_meta(out_dir: str, generator: str) -> Optional[Dict]:
    """``meta.json`` of an output of ``generator``, or ``None`` if
    ``out_dir`` is not one (no file, unreadable, or written by another
    generator)."""
    try:
        with open(osp.join(out_dir, META_FILE), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get('generator') != generator:
        return None
    return meta


def check_out_dir(out_dir: str, generator: str, title: str) -> None:
    """Refuse an output path that would lose someone's data.

    Args:
        out_dir: The output directory.
        generator: The ``generator`` name its ``meta.json`` must hold.
        title: The data set's name in messages, e.g. ``'Shapes-MVS'``.

    Raises:
        ValueError: ``out_dir`` is an existing file, or a non-empty
            directory that is not a previous output of ``generator``. The
            message starts with ``out:`` and says how to fix it.
    """
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(
            f'out: {out_dir!r} is an existing file; pass a directory path '
            f'(new, empty, or a previous {title} output)')
    if osp.isdir(out_dir) and os.listdir(out_dir) and \
            read_meta(out_dir, generator) is None:
        raise ValueError(
            f'out: {out_dir!r} is a non-empty directory that is not a '
            f'{title} output (no {META_FILE} from {generator}); pass a new '
            'or empty directory, or remove this one first')


def check_seed(seed) -> int:
    """``seed`` as an ``int``.

    Raises:
        ValueError: ``seed`` is not a non-negative integer (bools are not).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) \
            or seed < 0:
        raise ValueError(f'seed: must be a non-negative integer, got {seed!r}')
    return int(seed)


def make_temp_dir(out_dir: str, tag: str) -> str:
    """A fresh sibling ``<out>.<tag>-XXXX`` with the usual permissions."""
    parent = osp.dirname(out_dir) or '.'
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'{osp.basename(out_dir)}.{tag}-',
                           dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def swap_in(tmp: str, out_dir: str) -> None:
    """Move the finished ``tmp`` to ``out_dir``, replacing what is there."""
    if not osp.exists(out_dir):
        os.rename(tmp, out_dir)
        return
    old = make_temp_dir(out_dir, 'old')
    os.rmdir(old)
    os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def write_output(out_dir: str, generator: str, title: str,
                 write: Callable[[str], Dict]) -> Dict:
    """Write a generator's output to ``out_dir`` atomically.

    Checks ``out_dir`` (:func:`check_out_dir`), calls ``write(tmp)`` on a
    fresh sibling directory and swaps it in when ``write`` returns; if
    ``write`` raises, the temporary directory is removed and ``out_dir``
    is left as it was.

    Args:
        out_dir: The output directory.
        generator: The generator's name (``meta.json``'s ``generator``).
        title: The data set's name in messages.
        write: Writes every file into the empty directory it is given and
            returns the ``meta.json`` content.

    Returns:
        What ``write`` returned, plus ``out_dir`` (absolute).
    """
    out_dir = osp.abspath(out_dir)
    check_out_dir(out_dir, generator, title)
    tmp = make_temp_dir(out_dir, 'tmp')
    try:
        meta = write(tmp)
        swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dict(meta, out_dir=out_dir)
