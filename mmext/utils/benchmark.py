"""Helpers shared by the side-by-side benchmarks under
``tools/analysis_tools/`` (``benchmark_segformer.py``,
``benchmark_panoptic_segformer.py``).

* :func:`interleaved_times` / :func:`interleaved_medians`: a warm-up call of
  each function, then rounds that call them in turn (A, B, A, B, ...), so
  that all of them see the same machine load;
* :func:`peak_bytes`: memory one call needs above what was allocated when it
  began -- ``torch.cuda.max_memory_allocated`` on CUDA
  (:func:`cuda_peak_bytes`), the profiler's record of the CPU allocator
  otherwise (:func:`cpu_peak_bytes`);
* :func:`describe_device`: the machine part of a result table's header;
* :func:`strip_pretrained`: a model config without weight downloads.
"""
import platform
import statistics
import time
from typing import Any, Callable, Dict, List

import torch

__all__ = [
    'sync', 'interleaved_times', 'interleaved_medians', 'cuda_peak_bytes',
    'cpu_peak_bytes', 'peak_bytes', 'describe_device', 'strip_pretrained'
]


def sync(device: torch.device) -> None:
    """Wait for the queued kernels of a CUDA device; a no-op on the CPU."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved_times(fns: Dict[str, Callable[[], Any]], repeats: int,
                      device: torch.device) -> Dict[str, List[float]]:
    """Seconds of each of ``repeats`` calls of each function.

    Every function is called once untimed first (warm-up), then ``repeats``
    rounds call them in the order of ``fns``, each call between two
    synchronisations of ``device``.
    """
    for fn in fns.values():  # warm-up
        fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(fns: Dict[str, Callable[[], Any]], repeats: int,
                        device: torch.device) -> Dict[str, float]:
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
