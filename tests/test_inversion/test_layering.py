"""The inversion package and the loops stand apart from the pruning hooks:
nothing under ``mmext/inversion`` or ``mmext/engine/runner`` imports
``mmext.engine.hooks``."""
import ast
import glob
import os.path as osp

import mmext

PACKAGE = osp.dirname(mmext.__file__)


def _imports(path: str):
    """Absolute names of the modules ``path`` imports."""
    package = ['mmext'] + osp.relpath(osp.dirname(path),
                                      PACKAGE).split(osp.sep)
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] \
                if node.level else []
            yield '.'.join(base + ([node.module] if node.module else []))


def test_no_imports_from_the_hooks():
    paths = [
        p for folder in ('inversion', osp.join('engine', 'runner'))
        for p in glob.glob(osp.join(PACKAGE, folder, '**', '*.py'),
                           recursive=True)
    ]
    assert len(paths) >= 9
    offending = {
        osp.relpath(p, PACKAGE): name
        for p in paths for name in _imports(p)
        if name.startswith('mmext.engine.hooks')
    }
    assert offending == {}
