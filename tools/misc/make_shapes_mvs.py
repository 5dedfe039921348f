#!/usr/bin/env python
"""Generate Shapes-MVS, mmext's synthetic DTU stand-in (see
``docs/shapes.md``).

Examples::

    python tools/misc/make_shapes_mvs.py --preset tiny --out data/mvs_tiny
    python tools/misc/make_shapes_mvs.py --preset demo --out data/shapes_mvs

``OUT/train`` and ``OUT/test`` are DTU roots in the CVP-MVSNet reference
layout. The output is written to ``OUT.tmp-XXXX`` and renamed to ``OUT``
when complete. ``OUT`` may be new, empty, or a previous Shapes-MVS output
(replaced; with ``--reuse`` an output of the same arguments is kept as it
is). Bad arguments exit with status 2 and a message naming the argument.
The command line is the one of ``make_shapes.py``
(:mod:`mmext.datasets.shapes.cli`); torch is never imported.
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
    """:mod:`mmext.datasets.shapes.cli`, run from its file (see
    ``make_shapes.py``; importing it would run ``mmext/__init__``, which
    loads torch)."""
    path = osp.join(osp.dirname(importlib.util.find_spec('mmext').origin),
                    'datasets', 'shapes', 'cli.py')
    spec = importlib.util.spec_from_file_location('mmext_shapes_cli', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    cli = load_cli()
    mvs = cli.import_generator('mmext.datasets.shapes_mvs')
    parser = cli.generator_parser(
        'Generate Shapes-MVS: procedural multi-view scenes as DTU roots in '
        'the CVP-MVSNet layout (cameras, pair.txt, images under 7 lights, '
        'PFM depth, high-resolution test images, PLY ground-truth points).',
        sorted(mvs.PRESETS), 'Shapes-MVS', 'preset, seed')
    args = cli.parse_args(parser, mvs, argv)
    if cli.reuse_output(mvs, args, ('preset', 'seed'), 'Shapes-MVS'):
        return 0
    start = time.perf_counter()
    meta = mvs.generate_shapes_mvs(args.preset, args.out, seed=args.seed,
                                   progress=cli.show_progress(args))
    train, test = (len(meta['scans'][split]) for split in ('train', 'test'))
    (th, tw), (vh, vw) = meta['sizes']['train'], meta['sizes']['test']
    depth = meta['depth']
    print(f"Shapes-MVS {args.preset} (seed {args.seed}) -> {meta['out_dir']}"
          f" in {time.perf_counter() - start:.1f} s: train {train} scan(s) x "
          f"{meta['num_views']} views x {meta['lights']['count']} lights at "
          f"{th}x{tw}, test {test} scan(s) at {vh}x{vw}; depth "
          f"{depth['min']:g} + {depth['num_intervals']} x "
          f"{depth['interval']:g} mm")
    print(f"DTU roots: {osp.join(meta['out_dir'], meta['roots']['train'])} "
          f"(split='train'), "
          f"{osp.join(meta['out_dir'], meta['roots']['test'])} "
          "(split='test')")
    return 0


if __name__ == '__main__':
    sys.exit(main())
