"""Checks shared by the tests of mmext's data generators
(:mod:`mmext.datasets.shapes`, :mod:`mmext.datasets.shapes_mvs`): the
same output machinery (:mod:`mmext.datasets.shapes.output`) and command
line (:mod:`mmext.datasets.shapes.cli`) serve both, so both are tested
with the same cases.

Each ``check_*`` function raises ``AssertionError`` with a message on a
failure; the tests call them with their generator.
"""
import hashlib
import os
import os.path as osp
from typing import Callable, Dict, List, Optional

__all__ = [
    'tree_hashes', 'check_reruns', 'BAD_CLI_ARGUMENTS', 'check_cli_refuses',
    'check_cli_reuse', 'check_cli_tiny', 'interrupted', 'check_failed_runs_keep_output',
    'check_argument_errors'
]

#: ``(argv, argument)``: command lines a generator's CLI refuses with exit
#: status 2 and a message naming ``argument``. ``--out-file`` and
#: ``--out-foreign`` stand for ``--out`` and an existing file or a
#: non-empty directory that is no generator's output; without either,
#: ``--out`` is a new directory.
BAD_CLI_ARGUMENTS = [
    (['--preset', 'huge'], '--preset'),
    (['--preset', 'tiny', '--seed', '-3'], '--seed'),
    (['--preset', 'tiny', '--seed', 'x'], '--seed'),
    (['--preset', 'tiny', '--out-file'], '--out'),
    (['--preset', 'tiny', '--out-foreign'], '--out'),
]


def tree_hashes(root: str) -> Dict[str, str]:
    """sha256 of every file under ``root``, keyed by relative path."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def check_reruns(generate: Callable[..., Dict], reference: str,
                 tmp_path) -> List[str]:
    """The tiny preset generated again: with seed 0 (``reference``'s) into
    ``tmp_path / 'again'``, the same bytes; with seed 1 into
    ``tmp_path / 'other'``, the same files.

    Args:
        generate: The generator's ``generate_*(preset, out_dir, seed)``.
        reference: The tiny output of seed 0.
        tmp_path: A fresh folder (pytest's ``tmp_path``).

    Returns:
        list[str]: The files (relative paths) whose bytes seed 1 changed.
    """
    again, other = str(tmp_path / 'again'), str(tmp_path / 'other')
    generate('tiny', again, seed=0)
    generate('tiny', other, seed=1)
    ref = tree_hashes(reference)
    assert len(ref) > 100
    assert tree_hashes(again) == ref, 'seed 0 again: other bytes'
    diff = tree_hashes(other)
    assert set(diff) == set(ref), 'seed 1: other files'
    return sorted(k for k in ref if diff[k] != ref[k])


def check_cli_tiny(tool: str, reference: str, tmp_path,
                   max_seconds: float) -> List[str]:
    """Run ``tools/<tool> --preset tiny`` twice into ``tmp_path /
    'cli_tiny'`` (the second run replaces the first output), each in a
    fresh interpreter as a user does: each run exits with status 0 within
    ``max_seconds`` and without importing torch, nothing else is left in
    ``tmp_path`` (no ``tmp-*`` folder), and the output has the bytes of
    ``reference`` (the tiny output of seed 0).

    Returns:
        list[str]: What the runs printed.
    """
    import subprocess
    import sys
    import time

    from .tools import REPO
    script = osp.join(REPO, 'tools', tool)
    out = str(tmp_path / 'cli_tiny')
    code = ('import runpy, sys\n'
            f'sys.argv = [{script!r}, "--preset", "tiny", "--out", {out!r}]\n'
            'try:\n'
            f'    runpy.run_path({script!r}, run_name="__main__")\n'
            'except SystemExit as exc:\n'
            '    assert exc.code == 0, exc.code\n'
            'print("torch imported:", "torch" in sys.modules)\n')
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    printed = []
    for _ in range(2):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, '-c', code], env=env,
                              capture_output=True, text=True,
                              timeout=max(120, 4 * max_seconds))
        elapsed = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr
        assert elapsed < max_seconds, f'tiny took {elapsed:.1f} s'
        assert 'torch imported: False' in proc.stdout, proc.stdout
        printed.append(proc.stdout)
    assert sorted(os.listdir(tmp_path)) == ['cli_tiny']
    assert tree_hashes(out) == tree_hashes(reference)
    return printed


def _exit_code(main: Callable[[List[str]], int],
               argv: List[str]) -> Optional[int]:
    """``main(argv)``'s return value, or its ``SystemExit`` code."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def check_cli_refuses(main: Callable[[List[str]], int], argv: List[str],
                      argument: str, tmp_path, capsys) -> None:
    """A case of :data:`BAD_CLI_ARGUMENTS`: ``main`` exits with status 2,
    names ``argument`` on stderr and writes nothing (a foreign directory
    keeps its file).

    Args:
        main: The tool's ``main(argv)``.
        argv: The case's arguments.
        argument: The argument the message must name.
        tmp_path: A fresh folder (pytest's ``tmp_path``).
        capsys: pytest's ``capsys``.
    """
    existing = tmp_path / 'a_file'
    existing.write_text('x')
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('precious')
    argv = list(argv)
    if '--out-file' in argv:
        argv[argv.index('--out-file')] = '--out'
        argv.append(str(existing))
    elif '--out-foreign' in argv:
        argv[argv.index('--out-foreign')] = '--out'
        argv.append(str(foreign))
    else:
        argv += ['--out', str(tmp_path / 'new')]
    code = _exit_code(main, argv)
    err = capsys.readouterr().err
    assert code == 2, f'{argv}: exit status {code}, expected 2'
    assert f'argument {argument}' in err, err
    assert (foreign / 'keep.txt').read_text() == 'precious'
    assert not (tmp_path / 'new').exists()


def check_cli_reuse(main: Callable[[List[str]], int],
                    read_meta: Callable[[str], Optional[Dict]], out: str,
                    capsys) -> None:
    """``--reuse`` leaves ``out`` (a tiny output of seed 0) as it is, and
    another seed replaces it.

    Args:
        main: The tool's ``main(argv)``.
        read_meta: The generator's ``read_meta``.
        out: A writable tiny output, seed 0.
        capsys: pytest's ``capsys``.
    """
    marker = osp.join(out, 'marker.txt')
    with open(marker, 'w') as f:
        f.write('kept')
    assert main(['--preset', 'tiny', '--out', out, '--reuse']) == 0
    assert osp.isfile(marker), 'same arguments: the output must be kept'
    assert 'nothing to do' in capsys.readouterr().out
    assert main(['--preset', 'tiny', '--out', out, '--reuse', '--seed',
                 '1']) == 0
    assert not osp.exists(marker), 'another seed: the output is replaced'
    assert read_meta(out)['seed'] == 1


def interrupted(*args, **kwargs) -> None:
    """A stand-in for one of a generator's writers: raises
    ``RuntimeError('interrupted')``, as a run killed half-way."""
    raise RuntimeError('interrupted')


def check_failed_runs_keep_output(generate: Callable[..., Dict],
                                  out: str) -> None:
    """A run that fails (the test has replaced one of the generator's
    writers by :func:`interrupted`) leaves a previous output ``out``
    intact, creates no new one, and leaves no temporary folder beside
    either.

    Args:
        generate: The generator's ``generate_*(preset, out_dir, seed)``.
        out: A previous output, alone in its folder.
    """
    parent = osp.dirname(osp.abspath(out))
    before = tree_hashes(out)
    for target, seed in ((out, 1), (osp.join(parent, 'fresh'), 0)):
        try:
            generate('tiny', target, seed=seed)
        except RuntimeError as exc:
            assert str(exc) == 'interrupted', exc
        else:
            raise AssertionError(f'{target}: the run did not fail')
    assert sorted(os.listdir(parent)) == [osp.basename(out)]
    assert tree_hashes(out) == before


def check_argument_errors(generate: Callable[..., Dict], tmp_path) -> None:
    """The generator refuses an unknown preset, a negative seed and an
    existing file as output with a ``ValueError`` naming the argument,
    and writes nothing.

    Args:
        generate: The generator's ``generate_*(preset, out_dir, seed)``.
        tmp_path: A fresh folder (pytest's ``tmp_path``).
    """
    new = str(tmp_path / 'a')
    (tmp_path / 'f').write_text('x')
    for field, args, kwargs in (('preset', ('nope', new), {}),
                                ('seed', ('tiny', new), dict(seed=-1)),
                                ('out', ('tiny', str(tmp_path / 'f')), {})):
        try:
            generate(*args, **kwargs)
        except ValueError as exc:
            assert field in str(exc), (field, exc)
        else:
            raise AssertionError(f'{field}: no ValueError')
    assert not osp.exists(new)
