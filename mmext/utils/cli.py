"""Command-line arguments and the start shared by the scripts under
``tools/``."""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from types import ModuleType
from typing import Any, Callable, Optional, Sequence, Tuple, Type

from mmengine.config import Config, DictAction


def load_script(path: str, name: str) -> ModuleType:
    """A script (the files under ``tools/`` are not a package) as a module.

    Args:
        path (str): The script's file.
        name (str): The module name to give it.

    Returns:
        ModuleType: The executed module (its ``main`` does not run).
    """
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_cfg_options_argument(parser: argparse.ArgumentParser) -> None:
    """Add OpenMMLab's ``--cfg-options key=value ...`` override."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``config``, ``checkpoint``, ``--device`` and ``--cfg-options``,
    the arguments of a tool that runs a trained model on its config's test
    set (:func:`run_on_test_set`)."""
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--device', default=None,
                        help='cuda if available, else cpu')
    add_cfg_options_argument(parser)


def run_on_test_set(
    run: Callable[[Any, Any, argparse.Namespace], Any],
    args: argparse.Namespace,
    errors: Tuple[Type[Exception], ...] = (FileNotFoundError, ValueError,
                                           KeyError)
) -> int:
    """The main of a tool that runs a trained model on its config's test
    set: ``run(model, dataset, args)`` with the model and data set of the
    arguments of :func:`add_model_arguments`
    (:func:`mmext.apis.inference.init_model_and_test_dataset`).

    Args:
        run (Callable): The tool's work.
        args (argparse.Namespace): The parsed command line.
        errors (tuple[type]): User errors, of the build or of ``run``:
            printed as ``error: ...`` on stderr.

    Returns:
        int: The exit status: 0, or 1 after a user error.
    """
    from mmext.apis.inference import init_model_and_test_dataset
    try:
        model, dataset = init_model_and_test_dataset(
            args.config, args.checkpoint, args.device, args.cfg_options)
        run(model, dataset, args)
    except errors as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--launcher`` and ``--local_rank`` / ``--local-rank``.

    ``torch.distributed.launch`` on torch >= 2.0 passes ``--local-rank``;
    older versions pass ``--local_rank``. Call :func:`export_local_rank`
    after parsing.
    """
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> None:
    """Set ``LOCAL_RANK`` from the parsed ``--local-rank`` unless it is set."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)


def load_cfg(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with the switches every tool shares.

    Sets ``cfg.launcher``, merges ``--cfg-options`` and resolves the work dir
    (``--work-dir`` > the config's ``work_dir`` > ``./work_dirs/<name>``).
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config):
    """``RUNNERS.build(cfg)`` if ``cfg.runner_type`` is set, else
    ``Runner.from_cfg(cfg)`` (what OpenMMLab's tools do)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def prepare_cfg(
    build_cfg: Callable[[argparse.Namespace], Config],
    args: argparse.Namespace,
    dataset_keys: Sequence[str],
    errors: Tuple[Type[Exception], ...] = (FileNotFoundError, RuntimeError,
                                           ValueError)
) -> Optional[Config]:
    """A tool's config, ready for its runner, or None on a user error.

    Builds the config with ``build_cfg(args)``, checks that the data of
    ``dataset_keys`` exist
    (:func:`mmext.utils.data_check.check_dataset_paths`) and that the model
    config passes its class's own check
    (:func:`mmext.utils.model_check.check_model_config`), and sets up CPU
    distribution for a launcher
    (:func:`mmext.utils.cpu_dist.setup_cpu_distributed`).

    Args:
        build_cfg (Callable): The tool's ``args`` -> Config.
        args (argparse.Namespace): The parsed command line.
        dataset_keys (Sequence[str]): Dataloaders whose data must exist,
            e.g. ``('test_dataloader', )``.
        errors (tuple[type]): User errors: printed as ``error: ...`` on
            stderr, and None returned (the tool exits with status 1).

    Returns:
        Config | None: The config, or None after a user error.
    """
    from mmext.utils.cpu_dist import setup_cpu_distributed
    from mmext.utils.data_check import check_dataset_paths
    from mmext.utils.model_check import check_model_config
    try:
        cfg = build_cfg(args)
        check_dataset_paths(cfg, keys=tuple(dataset_keys))
        check_model_config(cfg)
        setup_cpu_distributed(cfg)
    except errors as exc:
        print(f'error: {exc}', file=sys.stderr)
        return None
    return cfg


def run_config_tool(
    args: argparse.Namespace,
    work: Callable[[Config], Any],
    errors: Tuple[Type[Exception], ...] = (FileExistsError, FileNotFoundError,
                                           ImportError, ValueError)
) -> int:
    """The main of a tool that reads one config: ``work(cfg)`` with
    ``args.config`` loaded, ``--cfg-options`` merged and ``args.launcher``
    set, the process group closed at the end.

    Returns:
        int: 0, or 1 after a user error (``errors``, printed as ``error:
        ...`` on stderr).
    """
    from mmext.utils.cpu_dist import close_distributed
    try:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        cfg.launcher = args.launcher
        work(cfg)
    except errors as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    finally:
        close_distributed()
    return 0
