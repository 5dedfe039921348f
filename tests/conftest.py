"""Fixtures and the skip policy shared by the whole test suite.

Data: the tiny Shapes and Shapes-MVS data sets are generated once per test
run (a fraction of a second each) and shared read-only; a test that writes
into a data root takes ``shapes_tiny_copy`` (or copies the tree with
``shutil.copytree``). A test that writes into a shared tree gets an error
naming the files.

Toy components: ``toy_cfg`` is the runner config of :mod:`mmext.testing.toy`
(a two-layer MLP on 2-d points, trained in a second).

Fixtures used by one test folder only live in that folder's ``conftest.py``;
test modules never import from each other.

Skips: ``pytest.ini`` passes ``-rs``, so every skip is listed with its
reason. With the environment variable ``CI`` set (CI sets ``CI=true``) or
``MMEXT_STRICT_SKIPS=1``, a skip whose reason is not a key of
:data:`ALLOWED_SKIPS` fails the run (exit status 1) and the summary names the
test and the reason. ``MMEXT_STRICT_SKIPS=0`` turns the check off.
"""
import os
import os.path as osp
import shutil
from typing import Dict, List, Tuple

import pytest

# ``pytester`` runs pytest on planted test files (tests/test_suite_rules.py).
pytest_plugins = ('pytester', )

# Every skip the suite may take in CI, by its exact reason, and why it is
# expected. Any other skip in a strict run (CI, MMEXT_STRICT_SKIPS=1) is a
# failure: a required package that does not import is a broken install, not
# a reason to skip. Add an entry only for a test that cannot apply on some
# machines, and say which.
ALLOWED_SKIPS: Dict[str, str] = {
    'checks the CPU error':
    'tools/train.py --amp is refused with a clear error on a machine '
    'without CUDA; on a machine with CUDA, AMP works and the test of the '
    'error does not apply (tests/test_tools/test_train_test_tools.py).',
    'checks the CPU-only path':
    'mmext.utils.cpu_dist sets up gloo DDP where no accelerator is '
    'present; on a machine with one, the tools use the stock MMEngine '
    'launcher and these tests do not apply '
    '(tests/test_tools/test_dist_tools.py).',
}

_SKIP_PREFIX = 'Skipped: '
_SKIPS_KEY = pytest.StashKey['_SkipRecorder']()


# ------------------------------------------------------------------- data
def _tree_state(root: str) -> Dict[str, Tuple[int, int]]:
    """``{relative path: (size, mtime_ns)}`` of every file under ``root``."""
    state = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            stat = os.stat(path)
            state[osp.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return state


# Shared read-only trees: fixture name -> (root, state when generated).
_SHARED_TREES: Dict[str, Tuple[str, Dict[str, Tuple[int, int]]]] = {}


def _shared_tree(tmp_path_factory, name: str, generate) -> str:
    """A tree ``generate(root)`` writes once, registered as read-only."""
    root = str(tmp_path_factory.mktemp(name))
    generate(root)
    _SHARED_TREES[name] = (root, _tree_state(root))
    return root


def _shared_shapes(tmp_path_factory, name: str, long_tail: bool) -> str:
    from mmext.datasets.shapes import generate_shapes
    return _shared_tree(
        tmp_path_factory, name,
        lambda root: generate_shapes('tiny', root, seed=0,
                                     long_tail=long_tail))


def pytest_runtest_teardown(item):
    """Fail a test, naming the files, if it wrote into a shared tree."""
    for name, (root, before) in list(_SHARED_TREES.items()):
        if name not in getattr(item, 'fixturenames', ()):
            continue
        after = _tree_state(root)
        if after == before:
            continue
        _SHARED_TREES[name] = (root, after)  # report it once
        changed = sorted(
            set(before) ^ set(after)
            | {path for path in set(before) & set(after)
               if before[path] != after[path]})
        pytest.fail(
            f'{name}: the test wrote into the shared read-only data root '
            f'({len(changed)} files added, removed or changed, e.g. '
            f'{changed[:5]}); copy it first (the shapes_tiny_copy fixture '
            'or shutil.copytree)', pytrace=False)


@pytest.fixture(scope='session')
def shapes_tiny(tmp_path_factory) -> str:
    """Root of the ``tiny`` Shapes preset, seed 0 (read-only)."""
    return _shared_shapes(tmp_path_factory, 'shapes_tiny', False)


@pytest.fixture(scope='session')
def shapes_tiny_long_tail(tmp_path_factory) -> str:
    """Root of the long-tailed ``tiny`` Shapes preset, seed 0 (read-only)."""
    return _shared_shapes(tmp_path_factory, 'shapes_tiny_long_tail', True)


@pytest.fixture(scope='session')
def shapes_mvs_tiny(tmp_path_factory) -> str:
    """Root of the ``tiny`` Shapes-MVS preset, seed 0 (read-only): the DTU
    roots ``train/`` and ``test/`` and ``meta.json``."""
    from mmext.datasets.shapes_mvs import generate_shapes_mvs
    return _shared_tree(
        tmp_path_factory, 'shapes_mvs_tiny',
        lambda root: generate_shapes_mvs('tiny', root, seed=0))


@pytest.fixture
def shapes_tiny_copy(shapes_tiny, tmp_path) -> str:
    """A private, writable copy of ``shapes_tiny`` under ``tmp_path``."""
    return shutil.copytree(shapes_tiny, str(tmp_path / 'shapes_tiny'))


# ------------------------------------------------------------ toy components
@pytest.fixture
def toy_cfg(tmp_path):
    """The toy runner config (:func:`mmext.testing.toy.get_toy_cfg`,
    epoch-based, 2 epochs of 8 iterations) as an ``mmengine.Config`` with
    ``work_dir`` ``tmp_path / 'work_dir'``; each test gets its own."""
    from mmengine.config import Config

    from mmext.testing.toy import get_toy_cfg
    return Config(get_toy_cfg(str(tmp_path / 'work_dir')))


# -------------------------------------------------------------- environment
@pytest.fixture
def restore_local_rank(monkeypatch):
    """The tools' ``parse_args`` set ``LOCAL_RANK``; undo it afterwards."""
    monkeypatch.setenv('LOCAL_RANK', os.environ.get('LOCAL_RANK', '0'))


@pytest.fixture
def one_torch_thread():
    """One intra-op thread, as ``run_distributed`` gives each rank: on a busy
    2-core machine two spinning OpenMP threads make small models up to 8x
    slower."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -------------------------------------------------------------- skip policy
def strict_skips() -> bool:
    """Whether an unexpected skip fails the run.

    ``MMEXT_STRICT_SKIPS`` decides when set (``1`` on, ``0`` off); otherwise
    a set, non-false ``CI`` variable turns the check on.
    """
    off = ('', '0', 'false', 'no')
    flag = os.environ.get('MMEXT_STRICT_SKIPS', '').strip().lower()
    if flag:
        return flag not in off
    return os.environ.get('CI', '').strip().lower() not in off


class _SkipRecorder:
    """Keeps ``(test id, reason)`` of every skip: module-level skips
    (``importorskip`` at import) and test skips (``skipif`` marks,
    ``pytest.skip`` calls)."""

    def __init__(self) -> None:
        self.skips: List[Tuple[str, str]] = []

    def _record(self, report) -> None:
        if not report.skipped or hasattr(report, 'wasxfail'):
            return
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(
            longrepr)
        if reason.startswith(_SKIP_PREFIX):
            reason = reason[len(_SKIP_PREFIX):]
        self.skips.append((report.nodeid, reason))

    def pytest_collectreport(self, report) -> None:
        self._record(report)

    def pytest_runtest_logreport(self, report) -> None:
        self._record(report)


def pytest_configure(config):
    recorder = _SkipRecorder()
    config.stash[_SKIPS_KEY] = recorder
    config.pluginmanager.register(recorder, 'mmext-skip-recorder')


def unexpected_skips(config) -> List[Tuple[str, str]]:
    """``(test id, reason)`` of each skip whose reason is not allowed."""
    return [(nodeid, reason)
            for nodeid, reason in config.stash[_SKIPS_KEY].skips
            if reason not in ALLOWED_SKIPS]


def pytest_sessionfinish(session, exitstatus):
    """In a strict run, an unexpected skip turns a passing run into exit
    status 1."""
    if strict_skips() and unexpected_skips(session.config) and \
            session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name each unexpected skip of a strict run and the way to fix it."""
    skips = unexpected_skips(config)
    if not (strict_skips() and skips):
        return
    terminalreporter.write_sep(
        '=', f'{len(skips)} unexpected skip(s) fail this run', red=True)
    for nodeid, reason in skips:
        terminalreporter.write_line(f'UNEXPECTED SKIP {nodeid}: {reason}')
    terminalreporter.write_line(
        'A strict run (CI or MMEXT_STRICT_SKIPS=1) allows only the skip '
        'reasons in ALLOWED_SKIPS (tests/conftest.py). Fix the install or '
        'the test; add a reason there only for a test that cannot apply on '
        'some machines.')
