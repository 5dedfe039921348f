"""Timing and memory helpers shared by the benchmarks under
``tools/analysis_tools/`` and the latency table of :mod:`mmext.pruning`.

* :func:`time_call`: seconds one call takes, CUDA events on a GPU;
* :func:`interleaved_rounds` / :func:`interleaved_times` /
  :func:`interleaved_medians`: warm-up calls of each function, then rounds
  that call them in turn (A, B, A, B, ...), so that all of them see the same
  machine load; the one timing loop of mmext;
* :func:`peak_bytes`: memory one call needs above what was allocated when it
  began -- ``torch.cuda.max_memory_allocated`` on CUDA
  (:func:`cuda_peak_bytes`), the profiler's record of the CPU allocator
  otherwise (:func:`cpu_peak_bytes`);
* :func:`describe_device`: the machine part of a result table's header;
* :func:`add_benchmark_arguments`: the command-line arguments every
  side-by-side benchmark takes;
* :func:`strip_pretrained`: a model config without weight downloads.

The module needs only torch.
"""
import argparse
import platform
import statistics
import time
from typing import (Any, Callable, Dict, Hashable, Iterator, List, Mapping,
                    Sequence, TypeVar, Union)

import torch

__all__ = [
    'sync', 'time_call', 'interleaved_rounds', 'interleaved_times',
    'interleaved_medians', 'cuda_peak_bytes', 'cpu_peak_bytes', 'peak_bytes',
    'describe_device', 'add_benchmark_arguments', 'strip_pretrained'
]

Key = TypeVar('Key', bound=Hashable)
Device = Union[str, torch.device]


def sync(device: Device) -> None:
    """Wait for the queued kernels of a CUDA device; a no-op on the CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], device: Device = 'cpu') -> float:
    """Seconds one call of ``fn`` takes on ``device``.

    On a CUDA device the call starts on an idle device (synchronised) and
    is timed with CUDA events around it, up to the end of its last queued
    kernel; elsewhere with ``time.perf_counter``.

    Args:
        fn (Callable[[], Any]): The call.
        device (str | torch.device): Where its work runs. Defaults to
            'cpu'.

    Returns:
        float: Seconds.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def interleaved_rounds(fns: Mapping[Key, Callable[[], Any]],
                       rounds: int,
                       *,
                       calls: int = 1,
                       warmup: int = 1,
                       device: Device = 'cpu'
                       ) -> Iterator[Dict[Key, List[float]]]:
    """Time several functions in interleaved rounds, one round at a time.

    Each function is first called ``warmup`` times untimed (all of the
    first function's warm-up calls, then the second's, ...). Then each of
    ``rounds`` rounds calls every function ``calls`` times in a row, in the
    order of ``fns``, each call timed by :func:`time_call`. The generator
    runs lazily: whatever the caller does between two rounds (e.g. measure
    a latency table) happens between them, under the same load.

    Args:
        fns (Mapping[Key, Callable[[], Any]]): The functions, by name.
        rounds (int): Number of rounds.
        calls (int): Consecutive timed calls per function and round.
            Defaults to 1.
        warmup (int): Untimed calls of each function first. Defaults to 1.
        device (str | torch.device): Where their work runs. Defaults to
            'cpu'.

    Yields:
        Dict[Key, List[float]]: Per round, the seconds of each function's
        ``calls`` calls.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    for _ in range(rounds):
        yield {
            name: [time_call(fn, device) for _ in range(calls)]
            for name, fn in fns.items()
        }


def interleaved_times(fns: Mapping[Key, Callable[[], Any]],
                      repeats: int,
                      device: Device = 'cpu',
                      *,
                      warmup: int = 1) -> Dict[Key, List[float]]:
    """Seconds of each of ``repeats`` calls of each function.

    Every function is called ``warmup`` times untimed first, then
    ``repeats`` rounds call them once each in the order of ``fns`` (see
    :func:`interleaved_rounds`).

    Args:
        fns (Mapping[Key, Callable[[], Any]]): The functions, by name.
        repeats (int): Rounds, i.e. timed calls per function.
        device (str | torch.device): Where their work runs. Defaults to
            'cpu'.
        warmup (int): Untimed calls of each function first. Defaults to 1.

    Returns:
        Dict[Key, List[float]]: Per function, its calls' seconds in order.
    """
    times: Dict[Key, List[float]] = {name: [] for name in fns}
    for round_times in interleaved_rounds(fns, repeats, warmup=warmup,
                                          device=device):
        for name, seconds in round_times.items():
            times[name].extend(seconds)
    return times


def interleaved_medians(fns: Mapping[Key, Callable[[], Any]],
                        repeats: int,
                        device: Device = 'cpu') -> Dict[Key, float]:
    """Median seconds per call of each function, calls interleaved (see
    :func:`interleaved_times`)."""
    return {
        name: statistics.median(t)
        for name, t in interleaved_times(fns, repeats, device).items()
    }


def cuda_peak_bytes(fn: Callable[[], Any],
                    device: torch.device = None) -> int:
    """Peak CUDA memory allocated during ``fn()`` above what was allocated
    before it (weights and inputs already there are not counted)."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def cpu_peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak CPU tensor memory allocated during ``fn()`` above what was
    allocated before it.

    ``torch.profiler`` with ``profile_memory=True`` records every
    allocation and release of PyTorch's CPU allocator with its size; the
    running sum of these in time order is the memory the call holds, and
    its maximum the peak (the CPU analogue of
    ``torch.cuda.max_memory_allocated``). Memory outside PyTorch's
    allocator (NumPy arrays, Python objects, library workspaces) is not
    counted. The profiler slows the call down: measure separately from
    timing.
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                 record_shapes=False) as prof:
        fn()
    cpu = torch._C._autograd.DeviceType.CPU
    events = [
        event for event in prof.profiler.kineto_results.events()
        if event.name() == '[memory]' and event.device_type() == cpu
    ]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def peak_bytes(fn: Callable[[], Any], device: torch.device) -> int:
    """:func:`cuda_peak_bytes` on a CUDA device, else
    :func:`cpu_peak_bytes`."""
    if device.type == 'cuda':
        return cuda_peak_bytes(fn, device)
    return cpu_peak_bytes(fn)


def describe_device(device: torch.device, threads: int) -> str:
    """The GPU's name, or the CPU's and the number of torch threads."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{platform.processor() or platform.machine()}, {threads} threads'


def add_benchmark_arguments(parser: argparse.ArgumentParser,
                            size: Sequence[int], repeats: int) -> None:
    """Add ``--size H W``, ``--repeats``, ``--threads`` (default 2) and
    ``--device`` (default ``'cpu'``) to a benchmark's parser.

    Args:
        parser (argparse.ArgumentParser): The benchmark's parser.
        size (Sequence[int]): Default (H, W) of the input image.
        repeats (int): Default number of interleaved rounds.
    """
    parser.add_argument('--size', nargs=2, type=int, default=list(size),
                        metavar=('H', 'W'))
    parser.add_argument('--repeats', type=int, default=repeats)
    parser.add_argument('--threads', type=int, default=2,
                        help='torch CPU threads (default 2)')
    parser.add_argument('--device', default='cpu')


def strip_pretrained(cfg: Any) -> Any:
    """Set every ``init_cfg`` and ``pretrained`` entry of a (nested) config
    to None, in place, so that building it downloads nothing; returns
    ``cfg``."""
    stack = [cfg]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ('init_cfg', 'pretrained'):
                    node[key] = None
                else:
                    stack.append(value)
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return cfg
