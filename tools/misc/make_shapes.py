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
import importlib.util
import os.path as osp
import sys
import time
from types import ModuleType
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)


def load_cli() -> ModuleType:
    """:mod:`mmext.datasets.shapes.cli` (the command line shared with
    ``make_shapes_mvs.py``), run from its file: it needs only the standard
    library, while importing it would first run ``mmext/__init__``, which
    loads mmengine and torch."""
    path = osp.join(osp.dirname(importlib.util.find_spec('mmext').origin),
                    'datasets', 'shapes', 'cli.py')
    spec = importlib.util.spec_from_file_location('mmext_shapes_cli', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    cli = load_cli()
    shapes = cli.import_generator('mmext.datasets.shapes')
    parser = cli.generator_parser(
        'Generate the Shapes data suite (COCO instances and panoptic, mmseg '
        'semantic maps, ImageNet-style crops, LVIS v1 with --long-tail).',
        sorted(shapes.PRESETS), 'Shapes', 'preset, seed, --long-tail')
    parser.add_argument('--long-tail', action='store_true',
                        help='Zipf class frequencies on train and LVIS v1 '
                        'annotation files')
    args = cli.parse_args(parser, shapes, argv)
    if cli.reuse_output(shapes, args, ('preset', 'seed', 'long_tail'),
                        'Shapes'):
        return 0
    start = time.perf_counter()
    summary = shapes.generate_shapes(
        args.preset, args.out, seed=args.seed, long_tail=args.long_tail,
        progress=cli.show_progress(args))
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
