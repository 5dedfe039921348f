"""The command line shared by mmext's data generators:
``tools/misc/make_shapes.py`` (:mod:`mmext.datasets.shapes`) and
``tools/misc/make_shapes_mvs.py`` (:mod:`mmext.datasets.shapes_mvs`).

Both take ``--preset``, ``--out``, ``--seed``, ``--no-progress`` and
``--reuse``; bad arguments exit with status 2 and a message naming the
argument, and ``--reuse`` keeps an output that ``meta.json`` says was
written with the same arguments.

This module needs only the standard library. The tools load it from its
file (:func:`load_cli` in each tool), since importing it as
``mmext.datasets.shapes.cli`` would first run ``mmext/__init__``, which
loads mmengine and torch (seconds on a 2-core machine, more than the tiny
presets' budget); :func:`import_generator` then imports the generator
without them.
"""
import argparse
import importlib
import os.path as osp
import sys
import types
from typing import List, Optional, Sequence

#: The ``mmext`` package folder that holds this file.
MMEXT_DIR = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def import_generator(package: str) -> types.ModuleType:
    """Import a generator package of ``mmext.datasets`` without torch.

    The generators need numpy, cv2 (and trimesh, plyfile) only, while
    ``import mmext`` and ``import mmext.datasets`` load mmengine and torch.
    When ``mmext`` is not imported yet, ``mmext`` and ``mmext.datasets``
    are registered as bare packages (their ``__path__``, the folders of
    :data:`MMEXT_DIR`, without running their ``__init__``), so that the
    generator and the few mmext modules it uses load from their files
    under their real names (for a command-line process: ``mmext`` then
    stays bare in it). Otherwise the normal import is used.

    Args:
        package: ``'mmext.datasets.shapes'`` or
            ``'mmext.datasets.shapes_mvs'``.
    """
    if 'mmext' not in sys.modules:
        for name, path in (('mmext', MMEXT_DIR),
                           ('mmext.datasets', osp.join(MMEXT_DIR,
                                                       'datasets'))):
            bare = types.ModuleType(name)
            bare.__path__ = [path]
            bare.__package__ = name
            sys.modules[name] = bare
    return importlib.import_module(package)


def non_negative_int(text: str) -> int:
    """argparse type for ``--seed``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'must be a non-negative integer, got {text!r}; e.g. --seed 0')
    if value < 0:
        raise argparse.ArgumentTypeError(
            f'must be a non-negative integer, got {value}; pass 0 or more')
    return value


def generator_parser(description: str, preset_names: List[str],
                     title: str, reuse_keys: str) -> argparse.ArgumentParser:
    """A parser with the arguments every generator takes.

    Args:
        description: The tool's description.
        preset_names: The ``--preset`` choices.
        title: The data set's name in the help, e.g. ``'Shapes-MVS'``.
        reuse_keys: What ``--reuse`` compares, e.g. ``'preset, seed'``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--preset', required=True, choices=preset_names,
                        help='size preset')
    parser.add_argument('--out', required=True,
                        help='output directory: new, empty, or a previous '
                        f'{title} output (replaced)')
    parser.add_argument('--seed', type=non_negative_int, default=0,
                        help='random seed (same seed, same bytes)')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar (shown for presets other '
                        'than tiny)')
    parser.add_argument('--reuse', action='store_true',
                        help='do nothing if OUT already holds the output of '
                        f'the same {reuse_keys} and generator version '
                        '(default: regenerate and replace it)')
    return parser


def parse_args(parser: argparse.ArgumentParser,
               generator: types.ModuleType,
               argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check arguments (``--out`` with the generator's
    ``check_out_dir``); errors exit with status 2."""
    args = parser.parse_args(argv)
    try:
        generator.check_out_dir(osp.abspath(args.out))
    except ValueError as err:
        parser.error(f'argument --out: {str(err)[len("out: "):]}')
    return args


def is_current(generator: types.ModuleType, args: argparse.Namespace,
               keys: Sequence[str]) -> bool:
    """Whether ``args.out`` already holds exactly what ``args`` asks for:
    its ``meta.json`` has the generator's version and the ``keys`` of
    ``args`` (e.g. ``('preset', 'seed')``)."""
    meta = generator.read_meta(args.out)
    return meta is not None and (
        meta.get('version'), *(meta.get(key) for key in keys)) == (
            generator.GENERATOR_VERSION, *(getattr(args, key)
                                           for key in keys))


def reuse_output(generator: types.ModuleType, args: argparse.Namespace,
                 keys: Sequence[str], title: str) -> bool:
    """With ``--reuse`` and a current output (:func:`is_current`), say so
    and return True: there is nothing to do."""
    if not (args.reuse and is_current(generator, args, keys)):
        return False
    print(f'{args.out} already holds {title} {args.preset} (seed '
          f'{args.seed}); --reuse: nothing to do')
    return True


def show_progress(args: argparse.Namespace) -> bool:
    """A progress bar unless ``--no-progress`` or the tiny preset."""
    return not args.no_progress and args.preset != 'tiny'
