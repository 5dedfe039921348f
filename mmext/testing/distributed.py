"""Run a function in several CPU processes joined by a gloo process group.

:func:`run_distributed` is the helper for DDP-correctness tests (hooks that
all-reduce statistics, samplers that slice per rank, loops that decide on
rank 0 and broadcast). It spawns ``world_size`` processes, sets the variables
``torchrun`` would set, initialises the default process group, runs
``fn(rank, world_size, *args)`` in each and returns their results in rank
order. A child's exception is re-raised in the parent, with the child's
traceback text chained to it.

MMEngine on CPU: the children set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``, and the process
group exists before ``fn`` runs, so a ``Runner(launcher='pytorch')`` built in
``fn`` skips ``init_dist`` (whose ``torch.cuda.set_device`` fails on a CPU
torch). ``Runner.wrap_model`` would still pass ``device_ids=[LOCAL_RANK]``
to DDP, which torch rejects for CPU modules; with ``patch_mmengine=True``
(the default) each child, and only the child, wraps ``Runner.wrap_model`` so
that on CPU it builds the wrapper from
:func:`mmext.utils.cpu_dist.cpu_model_wrapper_cfg` (``device_ids=None``).
Tools get the same effect without a patch from
:func:`mmext.utils.cpu_dist.setup_cpu_distributed`.

Example:
    >>> import torch.distributed as dist
    >>> def _sum_ranks(rank, world_size):
    ...     t = torch.tensor([rank + 1.0])
    ...     dist.all_reduce(t)
    ...     return t.item()
    >>> run_distributed(_sum_ranks, world_size=2)  # doctest: +SKIP
    [3.0, 3.0]

``fn`` and ``args`` are pickled into spawned processes: ``fn`` must be a
module-level function.
"""
import datetime
import faulthandler
import functools
import os
import pickle
import queue as queue_module
import socket
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp


class DistributedChildError(RuntimeError):
    """Raised in the parent when a child failed.

    When the child's exception could be pickled, it is re-raised itself and
    this error, carrying the child's traceback text, is its ``__cause__``.
    """

    def __init__(self, rank: int, traceback_text: str) -> None:
        self.rank = rank
        self.traceback_text = traceback_text
        super().__init__(
            f'rank {rank} failed; its traceback:\n{traceback_text}')


def find_free_port(host: str = '127.0.0.1') -> int:
    """Return a TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def run_distributed(fn: Callable[..., Any],
                    world_size: int = 2,
                    backend: str = 'gloo',
                    args: Sequence[Any] = (),
                    timeout: float = 120.0,
                    env: Optional[Dict[str, str]] = None,
                    patch_mmengine: bool = True,
                    num_threads: int = 1) -> List[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` processes.

    Args:
        fn (Callable): A module-level (picklable) function.
        world_size (int): Number of processes. Defaults to 2.
        backend (str): ``torch.distributed`` backend. Defaults to ``'gloo'``.
        args (Sequence): Extra picklable positional arguments for ``fn``.
        timeout (float): Seconds for the whole run, also used as the process
            group's timeout. A rank still running 5 s before it prints the
            stack of each of its threads to stderr. Defaults to 120.
        env (dict, optional): Extra environment variables for the children.
        patch_mmengine (bool): Make ``mmengine.runner.Runner`` wrap models
            for CPU DDP inside the children (see the module docstring).
            Defaults to True.
        num_threads (int): ``torch.set_num_threads`` in each child, to keep
            CPU use modest. Defaults to 1.

    Returns:
        list: ``fn``'s return value of each rank, in rank order.

    Raises:
        Exception: The first failing child's exception (its traceback text
            attached as a chained :class:`DistributedChildError`), or a
            :class:`DistributedChildError` when it could not be pickled.
        DistributedChildError: A child exited without reporting (e.g. killed).
        TimeoutError: The children did not finish within ``timeout``.
    """
    if world_size < 1:
        raise ValueError(f'world_size must be >= 1, got {world_size}')
    ctx = mp.get_context('spawn')
    result_queue = ctx.Queue()
    port = find_free_port()
    deadline = time.time() + timeout  # wall clock: shared with the children
    processes = []
    for rank in range(world_size):
        process = ctx.Process(
            target=_worker,
            args=(rank, world_size, backend, port, fn, tuple(args),
                  result_queue, timeout, deadline, dict(env or {}),
                  patch_mmengine, num_threads),
            daemon=True)
        process.start()
        processes.append(process)
    try:
        results = _collect(processes, result_queue, world_size, timeout)
        # Every rank reported: let them tear the group down and exit.
        for process in processes:
            process.join(timeout=30)
    finally:
        # On failure (or a straggler), stop the ranks still running, e.g.
        # blocked in a collective that the failed rank never joined.
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        result_queue.close()
    return results


def _collect(processes: List[Any], result_queue: Any, world_size: int,
             timeout: float) -> List[Any]:
    """Gather one message per rank; raise on the first failure."""
    results: Dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    exited_at: Dict[int, float] = {}
    while len(results) < world_size:
        try:
            message = result_queue.get(timeout=0.2)
        except queue_module.Empty:
            now = time.monotonic()
            if now > deadline:
                waiting = sorted(set(range(world_size)) - set(results))
                raise TimeoutError(
                    f'run_distributed: ranks {waiting} did not finish '
                    f'within {timeout} s') from None
            for rank, process in enumerate(processes):
                if rank in results or process.exitcode is None:
                    continue
                # A report sent just before exiting may still be in the pipe.
                if now - exited_at.setdefault(rank, now) > 2.0:
                    raise DistributedChildError(
                        rank, '(no report: the process exited with code '
                        f'{process.exitcode})') from None
            continue
        status, rank = message[0], message[1]
        if status == 'error':
            _reraise(rank, message[2], message[3])
        results[rank] = pickle.loads(message[2])
    return [results[rank] for rank in range(world_size)]


def _reraise(rank: int, payload: Optional[bytes], traceback_text: str):
    """Re-raise a child's exception with its traceback chained."""
    cause = DistributedChildError(rank, traceback_text)
    exc = None
    if payload is not None:
        try:
            exc = pickle.loads(payload)
        except Exception:  # noqa: BLE001  (any unpickling failure)
            exc = None
    if not isinstance(exc, BaseException):
        raise cause
    if hasattr(exc, 'add_note'):
        exc.add_note(f'(raised in rank {rank} of run_distributed; the '
                     'child traceback is chained above)')
    raise exc from cause


def _worker(rank: int, world_size: int, backend: str, port: int,
            fn: Callable[..., Any], args: tuple, result_queue: Any,
            timeout: float, deadline: float, env: Dict[str, str],
            patch_mmengine: bool, num_threads: int) -> None:
    """Child process body: set env, join the group, run ``fn``, report."""
    os.environ.update(env)
    os.environ.update(
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        GROUP_RANK='0')
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    # A rank still running shortly before the parent gives up prints every
    # thread's stack to its stderr, so a hang shows where it waits.
    faulthandler.dump_traceback_later(
        max(deadline - time.time() - 5.0, 1.0), exit=False)
    try:
        if patch_mmengine:
            _patch_runner_wrap_model()
        torch_dist.init_process_group(
            backend=backend,
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout))
        result = fn(rank, world_size, *args)
        message = ('ok', rank, pickle.dumps(result))
    except BaseException as exc:  # noqa: BLE001  (reported to the parent)
        text = traceback.format_exc()
        try:
            payload: Optional[bytes] = pickle.dumps(exc)
            pickle.loads(payload)
        except Exception:  # noqa: BLE001
            payload = None
        message = ('error', rank, payload, text)
    faulthandler.cancel_dump_traceback_later()
    result_queue.put(message)
    if torch_dist.is_initialized():
        try:
            torch_dist.destroy_process_group()
        except Exception:  # noqa: BLE001  (best effort at exit)
            pass
    # Wait until the message is handed to the pipe before exiting.
    result_queue.close()
    result_queue.join_thread()


def _patch_runner_wrap_model() -> None:
    """Make ``Runner.wrap_model`` CPU-safe in this (child) process only.

    Without an accelerator, a distributed runner without its own
    ``model_wrapper_cfg`` gets ``cpu_model_wrapper_cfg()``
    (``MMDistributedDataParallel`` with ``device_ids=None``), and a given
    DDP-type ``model_wrapper_cfg`` gets ``device_ids=None``.
    """
    try:
        from mmengine.runner import Runner
    except ImportError:  # pure-torch tests without mmengine
        return
    original = Runner.wrap_model
    if getattr(original, '_mmext_cpu_ddp', False):
        return

    from mmext.utils.cpu_dist import (accelerator_available,
                                      cpu_model_wrapper_cfg)

    @functools.wraps(original)
    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed and not accelerator_available():
            from mmengine.model import is_model_wrapper
            if not is_model_wrapper(model):
                model_wrapper_cfg = cpu_model_wrapper_cfg(
                    model_wrapper_cfg,
                    find_unused_parameters=self.cfg.get(
                        'find_unused_parameters', False))
        return original(self, model_wrapper_cfg, model)

    wrap_model._mmext_cpu_ddp = True  # type: ignore[attr-defined]
    Runner.wrap_model = wrap_model
