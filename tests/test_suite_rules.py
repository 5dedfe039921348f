"""Rules of the test suite itself.

- A strict run (CI, or ``MMEXT_STRICT_SKIPS=1``) fails on a skip whose reason
  is not in ``ALLOWED_SKIPS`` (``tests/conftest.py``); ``pytest.ini`` lists
  every skip (``-rs``). Checked by running pytest (in-process, ``pytester``)
  with this repository's ``pytest.ini`` and ``tests/conftest.py`` on planted
  test files.
- Required packages (those ``make setup`` installs) are imported, never
  ``importorskip``-ped: a broken install fails instead of skipping.
- No test module imports from another test module.
- Writing into a shared read-only data root (``shapes_tiny``) is an error.
"""
import os
import os.path as osp
import re
import shutil
from importlib.metadata import packages_distributions

import pytest

TESTS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TESTS)
# The requirement files `make setup` installs (see the Makefile).
INSTALLED_BY_SETUP = ('runtime.txt', 'mminstall.txt', 'tests.txt')

PLANTED = {
    'test_planted.py':
    'import pytest\n\n\n'
    'def test_passes():\n'
    '    assert True\n\n\n'
    'def test_allowed():\n'
    "    pytest.skip('checks the CPU error')\n\n\n"
    "@pytest.mark.skipif(True, reason='planted reason')\n"
    'def test_unexpected():\n'
    '    pass\n',
    'test_planted_missing.py':
    'import pytest\n\n'
    "pytest.importorskip('mmext_no_such_package')\n\n\n"
    'def test_never_runs():\n'
    '    pass\n',
    'test_planted_writer.py':
    'import os.path as osp\n\n\n'
    'def test_writes_into_a_copy(shapes_tiny_copy):\n'
    "    open(osp.join(shapes_tiny_copy, 'new.txt'), 'w').close()\n\n\n"
    'def test_writes_into_the_shared_tree(shapes_tiny):\n'
    "    open(osp.join(shapes_tiny, 'new.txt'), 'w').close()\n",
}


@pytest.fixture
def planted(pytester, monkeypatch):
    """Run pytest in-process on a project with this repository's pytest.ini
    and tests/conftest.py and the planted test files."""
    shutil.copy(osp.join(REPO, 'pytest.ini'), pytester.path / 'pytest.ini')
    tests = pytester.mkdir('tests')
    shutil.copy(osp.join(TESTS, 'conftest.py'), tests / 'conftest.py')
    for name, text in PLANTED.items():
        (tests / name).write_text(text)

    def run(env: dict, *args: str) -> pytest.RunResult:
        for name in ('CI', 'MMEXT_STRICT_SKIPS'):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return pytester.runpytest_inprocess(*args)

    return run


SKIP_FILES = ('tests/test_planted.py', 'tests/test_planted_missing.py')


@pytest.mark.parametrize(
    'env', [{}, {'CI': 'true', 'MMEXT_STRICT_SKIPS': '0'}])
def test_skips_are_listed_and_pass_outside_ci(planted, env):
    result = planted(env, *SKIP_FILES)
    out = result.stdout.str()
    assert result.ret == 0, out
    # -rs (pytest.ini): every skip with its reason.
    for reason in ('checks the CPU error', 'planted reason',
                   "could not import 'mmext_no_such_package'"):
        assert re.search(
            rf'SKIPPED \[1\] tests/test_planted\w*\.py:\d+: {reason}', out)
    assert 'UNEXPECTED SKIP' not in out


@pytest.mark.parametrize('env', [{'CI': 'true'}, {'MMEXT_STRICT_SKIPS': '1'}])
def test_strict_run_fails_on_unexpected_skips_naming_them(planted, env):
    result = planted(env, *SKIP_FILES)
    out = result.stdout.str()
    assert result.ret == 1, out
    unexpected = [line for line in result.outlines
                  if line.startswith('UNEXPECTED SKIP')]
    assert sorted(unexpected) == [
        'UNEXPECTED SKIP tests/test_planted.py::test_unexpected: '
        'planted reason',
        'UNEXPECTED SKIP tests/test_planted_missing.py: could not import '
        "'mmext_no_such_package': No module named 'mmext_no_such_package'",
    ]
    assert 'ALLOWED_SKIPS (tests/conftest.py)' in out


def test_strict_run_passes_with_allowed_skips_only(planted):
    result = planted({'CI': 'true'}, 'tests/test_planted.py',
                     '-k', 'not unexpected')
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1, skipped=1, deselected=1)


def test_writing_into_a_shared_data_root_is_an_error(planted):
    result = planted({}, 'tests/test_planted_writer.py')
    assert result.ret == 1, result.stdout.str()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ['*ERROR at teardown of test_writes_into_the_shared_tree*'])
    assert ('shapes_tiny: the test wrote into the shared read-only data root '
            "(1 files added, removed or changed, e.g. ['new.txt'])"
            in result.stdout.str())


def _test_files():
    for dirpath, _, files in os.walk(TESTS):
        for name in sorted(files):
            if name.endswith('.py'):
                path = osp.join(dirpath, name)
                with open(path, encoding='utf-8') as f:
                    yield osp.relpath(path, REPO), f.read()


def _requirement_names(filename: str) -> set:
    names = set()
    with open(osp.join(REPO, 'requirements', filename)) as f:
        for line in f:
            match = re.match(r'\s*([A-Za-z0-9_.\-]+)', line.split('#')[0])
            if match:
                names.add(re.sub(r'[-_.]+', '-', match.group(1)).lower())
    return names


def test_required_packages_are_imported_not_skipped():
    required = set().union(*map(_requirement_names, INSTALLED_BY_SETUP))
    dists = packages_distributions()
    offenders = []
    for path, text in _test_files():
        for module in re.findall(r"importorskip\(\s*['\"]([\w.]+)", text):
            top = module.split('.')[0]
            names = {re.sub(r'[-_.]+', '-', d).lower()
                     for d in dists.get(top, [])}
            if names & required:
                offenders.append(f'{path}: importorskip({module!r})')
    assert not offenders, (
        'these packages are installed by `make setup` '
        f'(requirements/{", ".join(INSTALLED_BY_SETUP)}): import them, so '
        f'that a broken install fails: {offenders}')


def test_test_modules_do_not_import_each_other():
    pattern = re.compile(
        r'^[ \t]*(from\s+(\.+test_|tests\b|test_)|import\s+(tests\b|test_))'
        r'.*$',
        re.MULTILINE)
    offenders = [
        f'{path}: {match.group(0).strip()}'
        for path, text in _test_files() for match in pattern.finditer(text)
    ]
    assert not offenders, (
        'move what test modules share into a conftest.py fixture or a '
        f'helper module (e.g. mmext/testing): {offenders}')
