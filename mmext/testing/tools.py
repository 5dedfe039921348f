"""Import a script under ``tools/`` (they are not a package) in tests."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(relpath: str) -> ModuleType:
    """``tools/<relpath>`` as a module, e.g. ``load_tool('invert.py')``."""
    name = 'mmext_tool_' + relpath.replace('/', '_').replace('.py', '')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_table_rows(text: str, header_end: str) -> list:
    """The body rows of the Markdown table whose header line ends with
    ``header_end``, each a list of stripped cells (the separator line is
    skipped; the table ends at the first line not starting with ``|``)."""
    lines = text.split(header_end)[1].strip().splitlines()[1:]
    rows = []
    for line in lines:
        if not line.startswith('|'):
            break
        rows.append([c.strip() for c in line.strip('|').split('|')])
    return rows
