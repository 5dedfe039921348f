# Copyright (c) mmext contributors. All rights reserved.
"""Print the full (merged) config.

Usage::

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
        [--save-path out.py]
"""
import argparse
import sys

import mmext  # noqa: F401  (registries; configs may use mmext.X types)
from mmengine.config import Config

from mmext.utils.cli import add_cfg_options_argument


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--save-path', default=None, help='save the merged config to a file')
    add_cfg_options_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        cfg.dump(args.save_path)
        print(f'Config saved to {args.save_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
