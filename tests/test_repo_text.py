"""Text a user reads speaks to the user.

No tracked file names a path of a development machine or links outside the
repository; the README, ``docs/`` and the config READMEs cite no issue
numbers and no notes that are not in the repository; and every relative
link, ``#anchor`` and ``configs/``, ``tools/`` or ``mmext/`` file path they
name exists. Each checker is first tested on planted violations.
"""
import os
import os.path as osp
import re
import subprocess
from typing import Dict, Iterable, List, Set

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Not a user's text: generated figures.
SKIPPED_DIRS = ('docs/images/', )
# Where a user reads prose: the README, docs/ and everything under configs/.
PROSE_PREFIXES = ('README.md', 'docs/', 'configs/')

# A path starts at a word boundary that is not part of a URL or of a longer
# path ("https://host/work/x" and "a/work/b" are not absolute paths).
_PATH_START = r'(?<![\w.:/~-])'
_EVERYWHERE = [
    (re.compile(r'\.\./' + 'shared\\b'), 'links outside the repository'),
    (re.compile(_PATH_START + '/(?:wo' + 'rk|ro' + 'ot)/'),
     'names an absolute path of a development machine'),
    (re.compile(_PATH_START + '/ho' + r'me/[\w.-]+/'),
     'names a home directory'),
]
_PROSE_ONLY = [
    (re.compile(_PATH_START + '/t' + 'mp/'),
     'uses /tmp as a data path (use a relative path such as data/shapes)'),
    (re.compile(r'\bissue[ -]?#?[0-9]', re.IGNORECASE),
     'cites an issue number (state the fact instead)'),
    (re.compile(r'\b(?:research notes|the notes)\b', re.IGNORECASE),
     'cites internal notes (cite the paper or a public repository)'),
]
_MD_NAME = re.compile(r'(?<![\w.-])([\w-]+\.md)\b')


def tracked_files(root: str = ROOT) -> List[str]:
    """Repository-relative paths of the repository's files.

    The files git tracks plus new files it does not ignore; without git, a
    walk that skips the virtual environment, data and build outputs.

    Args:
        root (str): The repository root.

    Returns:
        list[str]: Paths with ``/`` separators, sorted.
    """
    try:
        # Tracked files, and new ones that git does not ignore.
        command = ['git', 'ls-files', '-z', '--cached', '--others',
                   '--exclude-standard']
        out = subprocess.run(command, cwd=root, capture_output=True,
                             check=True).stdout
        names = [n for n in out.decode('utf-8').split('\0') if n]
    except (OSError, subprocess.CalledProcessError):
        ignored = {
            '.git', '.venv', 'data', 'work_dirs', '__pycache__', '.mim',
            'build', 'dist', '.pytest_cache'
        }
        names = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [
                d for d in dirs
                if d not in ignored and not d.endswith('.egg-info')
            ]
            names += [
                osp.relpath(osp.join(folder, f), root).replace(os.sep, '/')
                for f in files
            ]
    return sorted(n for n in names if osp.isfile(osp.join(root, n)))


def read_text(path: str):
    """The file's text, or None for a binary (NUL byte or not UTF-8)."""
    with open(path, 'rb') as f:
        data = f.read()
    if b'\0' in data[:8192]:
        return None
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return None


def text_problems(name: str, text: str, known_md: Set[str]) -> List[str]:
    """What in one file's text a user should not read.

    Args:
        name (str): Repository-relative path (decides which rules apply).
        text (str): The file's content.
        known_md (set[str]): Basenames of the markdown files in the
            repository; prose may name no other ``.md`` file.

    Returns:
        list[str]: ``'path:line: reason: excerpt'`` per problem.
    """
    prose = name.startswith(PROSE_PREFIXES)
    rules = _EVERYWHERE + (_PROSE_ONLY if prose else [])
    problems = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for pattern, reason in rules:
            if pattern.search(line):
                problems.append(f'{name}:{lineno}: {reason}: {line.strip()}')
        if prose:
            for md in _MD_NAME.findall(line):
                if md not in known_md:
                    problems.append(f'{name}:{lineno}: cites {md}, which is '
                                    f'not in the repository: {line.strip()}')
    return problems


def github_anchors(markdown: str) -> Set[str]:
    """The ``#anchors`` GitHub gives the headings of a markdown text.

    Lower case; links reduced to their text; every character that is not a
    letter, digit, space, ``-`` or ``_`` dropped; spaces become ``-``; a
    repeated anchor gets ``-1``, ``-2``, ... Fenced code is not a heading.
    """
    anchors, seen = set(), {}
    for line in strip_code(markdown).splitlines():
        match = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not match:
            continue
        title = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', match.group(1))
        slug = re.sub(r'[^\w\- ]', '', title.lower()).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def strip_code(markdown: str) -> str:
    """The text with fenced code blocks and inline code blanked out."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith('```'):
            fenced = not fenced
            out.append('')
            continue
        out.append('' if fenced else re.sub(r'`[^`]*`', '``', line))
    return '\n'.join(out)


_LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
_REPO_PATH = re.compile(
    r'(?<![\w./-])((?:configs|tools|mmext)/[\w./-]+\.py)\b')


def link_problems(name: str,
                  text: str,
                  root: str = ROOT,
                  anchors: Dict[str, Set[str]] = None) -> List[str]:
    """Relative links, anchors and repository paths that do not resolve.

    Args:
        name (str): Repository-relative path of the markdown file.
        text (str): Its content.
        root (str): The repository root.
        anchors (dict, optional): Cache of anchors per markdown path.

    Returns:
        list[str]: ``'path: target: reason'`` per broken link or path.
    """
    anchors = {} if anchors is None else anchors

    def anchors_of(path):
        if path not in anchors:
            with open(path, encoding='utf-8') as f:
                anchors[path] = github_anchors(f.read())
        return anchors[path]

    here = osp.dirname(osp.join(root, name))
    problems = []
    for target in _LINK.findall(strip_code(text)):
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.IGNORECASE):
            continue  # https:, mailto:
        path, _, anchor = target.partition('#')
        if not path:
            if anchor not in github_anchors(text):
                problems.append(f'{name}: {target}: no heading with this '
                                'anchor')
            continue
        full = osp.normpath(osp.join(here, path))
        if not osp.exists(full):
            problems.append(f'{name}: {target}: no such file')
        elif anchor and full.endswith('.md') and \
                anchor not in anchors_of(full):
            problems.append(f'{name}: {target}: no heading with this anchor')
    for path in sorted(set(_REPO_PATH.findall(text))):
        if not osp.isfile(osp.join(root, path)):
            problems.append(f'{name}: {path}: no such file')
    return problems


def user_markdown(names: Iterable[str]) -> List[str]:
    """The README, docs/*.md and every configs/**/README.md."""
    return [
        n for n in names
        if n == 'README.md' or (n.startswith('docs/') and n.endswith('.md')) or
        (n.startswith('configs/') and n.endswith('README.md'))
    ]


# ---------------------------------------------------------------- checkers


def test_text_checker_flags_planted_violations():
    known = {'README.md', 'benchmarks.md'}
    home = '/ho' + 'me/alice/'
    planted = '\n'.join([
        'see [design](..' + '/shared/DESIGN.md)',  # 1
        'data in /wo' + 'rk/shared/research',  # 2
        'python train.py --out /t' + 'mp/shapes',  # 3
        'fixed in iss' + 'ue 4 and Issue-7',  # 4
        'as the research no' + 'tes say',  # 5
        'written from prun' + 'ing.md 2.8',  # 6
        f'cache in {home}x',  # 7
    ])
    problems = text_problems('docs/x.md', planted, known)
    # Line 1 twice: the link leaves the repository and names a file that is
    # not in it.
    assert [p.split(':')[1]
            for p in problems] == ['1', '1', '2', '3', '4', '5', '6', '7']
    # Outside the prose folders only the machine paths and links count.
    problems = text_problems('mmext/x.py', planted, known)
    assert [p.split(':')[1] for p in problems] == ['1', '2', '7']


def test_text_checker_keeps_legitimate_text():
    known = {'README.md', 'benchmarks.md'}
    fine = '\n'.join([
        'see [benchmarks](docs/benchmarks.md#halp) and README.md',
        'https://github.com/open-mmlab/mmdetection/work/x',  # a URL
        'tmp_dir = tempfile.mkdtemp()  # under the system temp dir',
        'python tools/misc/make_shapes.py --out data/shapes_tiny',
        'work_dirs/halp/luts/x.json and my/work/dir',
        'the issue tracker of mmdet',
    ])
    assert text_problems('docs/x.md', fine, known) == []


def test_anchor_and_link_checker(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'configs' / 'p').mkdir(parents=True)
    (tmp_path / 'configs' / 'p' / 'a.py').write_text('')
    (tmp_path / 'docs' / 'b.md').write_text(
        '# Bench\n\n## HALP\n\n### History\n\n## RIO\n\n### History\n\n'
        "### Inference against mmdet's Mask2Former\n\n"
        '### Latest run (2026-11-27): page faults\n\n'
        '```\n## not a heading\n```\n')
    assert github_anchors((tmp_path / 'docs' / 'b.md').read_text()) == {
        'bench', 'halp', 'history', 'rio', 'history-1',
        'inference-against-mmdets-mask2former',
        'latest-run-2026-11-27-page-faults'
    }
    readme = '\n'.join([
        '[ok](docs/b.md#halp) [ok](docs/b.md#history-1) [ok](#top)',
        '[ok](configs/p/a.py) [web](https://example.com/x#y)',
        '`[in code](missing.md)` configs/p/a.py',
        '[bad](docs/b.md#issue-4)',
        '[bad](docs/missing.md)',
        'run configs/p/missing.py',
        '# Top',
    ])
    problems = link_problems('README.md', readme, root=str(tmp_path))
    assert problems == [
        'README.md: docs/b.md#issue-4: no heading with this anchor',
        'README.md: docs/missing.md: no such file',
        'README.md: configs/p/missing.py: no such file',
    ]


# ---------------------------------------------------------------- the repo


def test_no_tracked_file_speaks_of_the_development_machines():
    names = [n for n in tracked_files() if not n.startswith(SKIPPED_DIRS)]
    assert 'README.md' in names and 'tests/test_repo_text.py' in names
    known_md = {osp.basename(n) for n in names if n.endswith('.md')}
    problems = []
    for name in names:
        text = read_text(osp.join(ROOT, name))
        if text is not None:
            problems += text_problems(name, text, known_md)
    assert not problems, 'fix the text:\n' + '\n'.join(problems)


def test_every_link_anchor_and_path_in_the_docs_resolves():
    docs = user_markdown(tracked_files())
    assert {'README.md', 'docs/benchmarks.md',
            'configs/halp/README.md'} <= set(docs)
    anchors, problems = {}, []
    for name in docs:
        with open(osp.join(ROOT, name), encoding='utf-8') as f:
            problems += link_problems(name, f.read(), anchors=anchors)
    assert not problems, 'broken links:\n' + '\n'.join(problems)
