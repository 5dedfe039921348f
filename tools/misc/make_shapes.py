#!/usr/bin/env python
"""Generate the Shapes data suite (see ``docs/shapes.md``).

Examples::

    python tools/misc/make_shapes.py --preset tiny --out data/shapes_tiny
    python tools/misc/make_shapes.py --preset demo --out data/shapes
    python tools/misc/make_shapes.py --preset demo --out data/shapes_lt \\
        --long-tail

The output is written to ``OUT.tmp-XXXX`` and renamed to ``OUT`` when
complete. ``OUT`` may be new, empty, or a previous Shapes output (replaced;
with ``--reuse`` an output of the same arguments is kept as it is).
Bad arguments exit with status 2 and a message naming the argument.
"""
import argparse
import importlib.util
import os.path as osp
import sys
import time
from types import ModuleType
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_shapes() -> ModuleType:
    """Import ``mmext.datasets.shapes`` without running ``mmext/__init__``.

    The generator needs only numpy and cv2, while ``import mmext`` loads
    mmengine and torch (about 3 s on a 2-core machine, which alone would
    exceed the tiny preset's budget). The subpackage is therefore loaded
    from its files under its real name; if ``mmext`` is already imported,
    or cannot be located, the normal import is used.
    """
    name = 'mmext.datasets.shapes'
    if 'mmext' in sys.modules or name in sys.modules:
        return importlib.import_module(name)
    spec = importlib.util.find_spec('mmext')
    if spec is None:
        sys.path.insert(0, REPO_ROOT)
        spec = importlib.util.find_spec('mmext')
    if spec is None or not spec.submodule_search_locations:
        return importlib.import_module(name)
    pkg_dir = osp.join(list(spec.submodule_search_locations)[0], 'datasets',
                       'shapes')
    sub_spec = importlib.util.spec_from_file_location(
        name, osp.join(pkg_dir, '__init__.py'),
        submodule_search_locations=[pkg_dir])
    module = importlib.util.module_from_spec(sub_spec)
    sys.modules[name] = module
    try:
        sub_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


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


def build_parser(preset_names: List[str]) -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        description='Generate the Shapes data suite (COCO instances and '
        'panoptic, mmseg semantic maps, ImageNet-style crops, LVIS v1 with '
        '--long-tail).')
    parser.add_argument('--preset', required=True, choices=preset_names,
                        help='size preset')
    parser.add_argument('--out', required=True,
                        help='output directory: new, empty, or a previous '
                        'Shapes output (replaced)')
    parser.add_argument('--seed', type=non_negative_int, default=0,
                        help='random seed (same seed, same bytes)')
    parser.add_argument('--long-tail', action='store_true',
                        help='Zipf class frequencies on train and LVIS v1 '
                        'annotation files')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar (shown for presets other '
                        'than tiny)')
    parser.add_argument('--reuse', action='store_true',
                        help='do nothing if OUT already holds the output of '
                        'the same preset, seed, --long-tail and generator '
                        'version (default: regenerate and replace it)')
    return parser


def is_current(shapes: ModuleType, args: argparse.Namespace) -> bool:
    """Whether ``args.out`` already holds exactly what ``args`` asks for."""
    meta = shapes.read_meta(args.out)
    return meta is not None and (
        meta.get('version'), meta.get('preset'), meta.get('seed'),
        meta.get('long_tail')) == (shapes.GENERATOR_VERSION, args.preset,
                                   args.seed, args.long_tail)


def parse_args(shapes: ModuleType,
               argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check arguments; errors exit with status 2."""
    parser = build_parser(sorted(shapes.PRESETS))
    args = parser.parse_args(argv)
    try:
        shapes.check_out_dir(osp.abspath(args.out))
    except ValueError as err:
        parser.error(f'argument --out: {str(err)[len("out: "):]}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    shapes = load_shapes()
    args = parse_args(shapes, argv)
    if args.reuse and is_current(shapes, args):
        print(f'{args.out} already holds Shapes {args.preset} (seed '
              f'{args.seed}); --reuse: nothing to do')
        return 0
    start = time.perf_counter()
    summary = shapes.generate_shapes(
        args.preset, args.out, seed=args.seed, long_tail=args.long_tail,
        progress=not args.no_progress and args.preset != 'tiny')
    counts = summary['counts']
    print(f"Shapes {args.preset} (seed {args.seed}"
          f"{', long-tail' if args.long_tail else ''}) -> "
          f"{summary['out_dir']} in {time.perf_counter() - start:.1f} s: "
          f"scenes {counts['images']}, instances {counts['instances']}")
    if summary['lvis']:
        print(f"LVIS frequency groups: {summary['lvis']['frequency']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
