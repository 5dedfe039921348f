"""Run MMEngine's distributed (DDP) training on CPU with the gloo backend.

MMEngine 0.10.7 assumes an accelerator when ``launcher != 'none'``:

1. ``mmengine.dist.init_dist('pytorch')`` calls ``torch.cuda.set_device``,
   which raises ``AttributeError`` on a CPU-only torch build, and configs
   usually ask for ``dist_cfg=dict(backend='nccl')``, which CPU torch lacks.
2. ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to
   ``MMDistributedDataParallel``; torch's DDP rejects ``device_ids`` for a
   CPU module (``ValueError: DistributedDataParallel device_ids and
   output_device arguments only work with single-device/multiple-device GPU
   modules or CPU modules``).

Nothing here patches MMEngine. :func:`setup_cpu_distributed` works through
MMEngine's own switches: it initialises the gloo process group itself (the
``Runner`` skips ``init_dist`` when a group already exists) and writes a
``model_wrapper_cfg`` with ``device_ids=None`` (``Runner.wrap_model`` only
``setdefault``\\ s ``device_ids``). ``tools/train.py`` and ``tools/test.py``
call it, so ``tools/dist_train.sh CONFIG 2`` works on a CPU machine.
"""
import datetime
import logging
import os
import sys
from typing import Any, MutableMapping, NoReturn, Optional

import torch
import torch.distributed as torch_dist


def accelerator_available() -> bool:
    """Whether MMEngine will find a CUDA, NPU, MLU or MUSA device."""
    from mmengine.device import (is_cuda_available, is_mlu_available,
                                 is_musa_available, is_npu_available)
    return bool(is_cuda_available() or is_npu_available()
                or is_mlu_available() or is_musa_available())


def cpu_model_wrapper_cfg(model_wrapper_cfg: Optional[MutableMapping] = None,
                          find_unused_parameters: bool = False) -> dict:
    """Return a ``model_wrapper_cfg`` that MMEngine can build on CPU.

    Args:
        model_wrapper_cfg (MutableMapping, optional): The config's own
            ``model_wrapper_cfg``. ``None`` means MMEngine's default wrapper,
            ``MMDistributedDataParallel(broadcast_buffers=False)``.
        find_unused_parameters (bool): Used when ``model_wrapper_cfg`` is
            ``None``, as ``Runner.wrap_model`` reads it from the config.

    Returns:
        dict: A copy with ``device_ids=None`` when the wrapper is a
        ``DistributedDataParallel`` subclass; other wrappers are returned
        unchanged.
    """
    if model_wrapper_cfg is None:
        return dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=find_unused_parameters)
    wrapper_cfg = dict(model_wrapper_cfg)
    wrapper_type: Any = wrapper_cfg.get('type', 'MMDistributedDataParallel')
    if isinstance(wrapper_type, str):
        import mmengine.model  # noqa: F401  (registers MMEngine's wrappers)
        from mmengine.registry import MODEL_WRAPPERS
        wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
    if isinstance(wrapper_type, type) and issubclass(
            wrapper_type, torch.nn.parallel.DistributedDataParallel):
        wrapper_cfg.setdefault('device_ids', None)
    return wrapper_cfg


def setup_cpu_distributed(cfg: MutableMapping) -> bool:
    """Prepare a ``launcher='pytorch'`` run for CPU-only machines.

    Does nothing (returns ``False``) when ``cfg.launcher`` is ``'none'`` or an
    accelerator is present. Otherwise it sets the gloo backend in
    ``cfg.env_cfg.dist_cfg``, initialises the default process group from the
    ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` variables that
    ``torchrun`` sets, and makes ``cfg.model_wrapper_cfg`` CPU-safe with
    :func:`cpu_model_wrapper_cfg`.

    Args:
        cfg (MutableMapping): The run's config, with ``launcher`` set.

    Returns:
        bool: Whether the CPU set-up was applied.

    Raises:
        RuntimeError: For ``slurm`` or ``mpi`` launchers on CPU (MMEngine's
            ``init_dist`` for them divides by the GPU count), or when the
            ``torchrun`` variables are missing.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or accelerator_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs GPUs: MMEngine initialises it from '
            'the GPU count. On a CPU-only machine use --launcher pytorch '
            '(tools/dist_train.sh CONFIG NPROC), which runs on gloo.')
    if cfg.get('env_cfg', None) is None:
        cfg['env_cfg'] = dict()
    if cfg['env_cfg'].get('dist_cfg', None) is None:
        cfg['env_cfg']['dist_cfg'] = dict()
    dist_cfg = cfg['env_cfg']['dist_cfg']
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        from mmengine.logging import print_log
        print_log(
            f"No GPU found: using the gloo backend instead of "
            f"{dist_cfg['backend']!r} for this CPU run.",
            logger='current',
            level=logging.WARNING)
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if name not in os.environ:
                raise RuntimeError(
                    f'--launcher pytorch needs the {name} environment '
                    'variable; start the run with torchrun or '
                    'tools/dist_train.sh.')
        kwargs = {}
        if dist_cfg.get('timeout') is not None:
            kwargs['timeout'] = datetime.timedelta(
                seconds=dist_cfg['timeout'])
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)
    cfg['model_wrapper_cfg'] = cpu_model_wrapper_cfg(
        cfg.get('model_wrapper_cfg', None),
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    return True


def close_distributed() -> None:
    """Destroy the default process group, if one was initialised.

    ``torch.distributed`` asks programs to call ``destroy_process_group``
    before they exit; left to the interpreter's shutdown, gloo's threads are
    sometimes torn down in the wrong order and the process aborts with
    ``terminate called without an active exception`` after a run that
    finished. The barrier first makes sure no rank is still communicating.
    """
    if not torch_dist.is_available() or not torch_dist.is_initialized():
        return
    torch_dist.barrier()
    torch_dist.destroy_process_group()


def exit_process(status: int) -> NoReturn:
    """End a tool's process with ``status``.

    Under a distributed launcher (``WORLD_SIZE`` > 1 in the environment),
    after :func:`close_distributed` has run, the process leaves with
    ``os._exit`` once the log handlers and the standard streams are
    flushed: the interpreter's teardown (destructors of the process
    group's store and threads) can abort a finished rank with
    ``terminate called without an active exception`` on a loaded CPU,
    which the launcher reports as a failed run. A single process exits
    normally (``sys.exit``).

    Args:
        status (int): The exit status.
    """
    if int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        sys.exit(status)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe
            pass
    os._exit(status)
