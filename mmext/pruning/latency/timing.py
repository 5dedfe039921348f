"""Timing for the latency model: layers, whole networks, and the LUT build.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv:2110.10811) prunes against latencies measured on the
deployment device. This module measures them, every call timed by the one
interleaved timing loop of :mod:`mmext.utils.benchmark`:

* :func:`measure_layer_latency` times one layer of a
  :class:`~.keys.LayerSignature` at given channel counts;
* :func:`build_lut` fills a resumable, atomically saved
  :class:`~.table.LatencyLUT` over a channel grid;
* :func:`measure_forward_latency` times whole networks interleaved (dense
  against pruned), :func:`median_of_minima` being the estimator that holds
  up on a shared machine.
"""
import contextlib
import dataclasses
import functools
import os.path as osp
import statistics
import time
from typing import Any, Dict, Iterable, List, Sequence, Tuple, Union

import torch
from torch import nn

from mmext.utils.benchmark import interleaved_rounds, interleaved_times
from .grid import Job
from .keys import CONV, LINEAR, MAXPOOL, UNIT, LayerSignature
from .table import LatencyLUT, check_compatible
from .tracing import call_module, eval_mode

__all__ = [
    'measure_layer_latency', 'build_lut', 'median_of_minima',
    'measure_forward_latency', 'measure_network_latency'
]


def _build_layer(signature: LayerSignature, cin: int,
                 cout: int) -> Tuple[nn.Module, Tuple[int, ...]]:
    """A fresh layer with ``cin``/``cout`` channels and its input shape."""
    sig = signature
    cin, cout, groups = sig.active(cin, cout)
    height, width = sig.in_size
    shape: Tuple[int, ...] = (sig.batch, cin, height, width)
    if sig.kind in (CONV, UNIT):
        layer: nn.Module = nn.Conv2d(
            cin, cout, sig.kernel_size, sig.stride, sig.padding,
            sig.dilation, groups, sig.bias)
        if sig.kind == UNIT:
            layer = nn.Sequential(layer, nn.BatchNorm2d(cout),
                                  nn.ReLU(inplace=True))
    elif sig.kind == LINEAR:
        layer = nn.Linear(cin, cout, bias=sig.bias)
        shape = (sig.batch, cin) if width == 1 else (sig.batch, width, cin)
    elif sig.kind == MAXPOOL:
        layer = nn.MaxPool2d(sig.kernel_size, sig.stride, sig.padding,
                             sig.dilation)
    else:
        layer = nn.AvgPool2d(sig.kernel_size, sig.stride, sig.padding)
    return layer.eval(), shape


def measure_layer_latency(signature: LayerSignature,
                          cin: int,
                          cout: int,
                          *,
                          device: Union[str, torch.device] = 'cpu',
                          warmup: int = 5,
                          repeats: int = 20,
                          dtype: torch.dtype = torch.float32) -> float:
    """Median latency of one forward of a layer, in milliseconds.

    Builds the layer with ``cin``/``cout`` channels (a depthwise
    convolution with ``groups = cin = cout``) and times it on a random
    input of ``signature.batch`` samples under ``torch.no_grad``, with
    CUDA events on a GPU (set ``torch.backends.cudnn.benchmark`` as the
    deployment will; the warm-up calls absorb its autotuning).

    Args:
        signature (LayerSignature): the layer.
        cin (int): input channels, ``>= 1``.
        cout (int): output channels, ``>= 1``.
        device (str | torch.device): where to time it. Defaults to 'cpu'.
        warmup (int): untimed calls first. Defaults to 5.
        repeats (int): timed calls; the median is returned. Defaults to 20.
        dtype (torch.dtype): parameter and input dtype. Defaults to
            float32.

    Returns:
        float: median milliseconds per forward of the whole batch.
    """
    device = torch.device(device)
    layer, shape = _build_layer(signature, cin, cout)
    layer = layer.to(device=device, dtype=dtype)
    inp = torch.randn(shape, device=device, dtype=dtype)
    with torch.no_grad():
        seconds = interleaved_times({'layer': functools.partial(layer, inp)},
                                    max(repeats, 1), device,
                                    warmup=warmup)['layer']
    return statistics.median(seconds) * 1e3


def _job_points(jobs: Iterable[Job],
                batch: int) -> Dict[str, Tuple[LayerSignature, int, int]]:
    """Key -> (signature at ``batch``, cin, cout) of every grid point;
    channel-wise layers use the cin values only."""
    points: Dict[str, Tuple[LayerSignature, int, int]] = {}
    for signature, cins, couts in jobs:
        sig = dataclasses.replace(signature, batch=batch)
        pairs = ([(c, c) for c in cins] if sig.channelwise else
                 [(cin, cout) for cin in cins for cout in couts])
        for cin, cout in pairs:
            points.setdefault(sig.key(cin, cout), (sig, cin, cout))
    return points


def _start_lut(out_path: str, device: Union[str, torch.device], batch: int,
               dtype: torch.dtype, resume: bool) -> LatencyLUT:
    """The cached table at ``out_path`` to resume, or a new one."""
    if resume and osp.exists(out_path):
        lut = LatencyLUT.load(out_path)
        check_compatible(lut, device, batch, dtype)
        return lut
    return LatencyLUT(meta=LatencyLUT.make_meta(device, batch, dtype))


def build_lut(jobs: Iterable[Job],
              out_path: str,
              *,
              device: Union[str, torch.device] = 'cpu',
              batch: int,
              dtype: torch.dtype = torch.float32,
              warmup: int = 5,
              repeats: int = 20,
              resume: bool = True,
              progress: bool = True,
              save_every: float = 5.0) -> LatencyLUT:
    """Measure every grid point of ``jobs`` not yet in the cache.

    The cache at ``out_path`` is rewritten atomically every
    ``save_every`` seconds, at the end, and when the run is interrupted
    by an exception, so a rerun resumes where it stopped and the file is
    never half-written. With ``resume=False`` an existing file is ignored
    and replaced only by the finished table.

    Args:
        jobs (Iterable[Tuple[LayerSignature, Sequence[int],
            Sequence[int]]]): (layer, cin values, cout values); every
            (cin, cout) pair is measured, or each cin for channel-wise
            layers. The signatures' batch is replaced by ``batch``.
        out_path (str): JSON cache path.
        device (str | torch.device): where to measure. Defaults to 'cpu'.
        batch (int): batch size to measure at.
        dtype (torch.dtype): defaults to float32.
        warmup (int): see :func:`measure_layer_latency`. Defaults to 5.
        repeats (int): see :func:`measure_layer_latency`. Defaults to 20.
        resume (bool): continue the cache at ``out_path``. Defaults to
            True.
        progress (bool): show a tqdm bar. Defaults to True.
        save_every (float): seconds between checkpoints. Defaults to 5.

    Returns:
        LatencyLUT: the complete table.

    Raises:
        ValueError: the cache was measured at another batch or dtype.
    """
    from tqdm import tqdm
    lut = _start_lut(out_path, device, batch, dtype, resume)
    checkpoint = resume or not osp.exists(out_path)
    pending = [(key, point) for key, point in _job_points(jobs, batch).items()
               if key not in lut.entries]
    last_save = time.monotonic()
    try:
        for key, (sig, cin, cout) in tqdm(pending, disable=not progress,
                                          desc='latency LUT'):
            lut.add(key, measure_layer_latency(
                sig, cin, cout, device=device, warmup=warmup,
                repeats=repeats, dtype=dtype))
            if checkpoint and time.monotonic() - last_save >= save_every:
                lut.save(out_path)
                last_save = time.monotonic()
    except BaseException:
        if checkpoint and pending:
            lut.save(out_path)
        raise
    lut.save(out_path)
    return lut


def median_of_minima(rounds: Iterable[Sequence[float]]) -> float:
    """Median over rounds of the fastest of each round's calls.

    The estimator for a whole network's latency on a shared machine: a
    layer call lasts well under a millisecond, so the median of a few
    calls (:func:`measure_layer_latency`) rarely includes the moments
    another process or the hypervisor takes a core, while a 10-100 ms
    network call almost always does. The fastest of a few consecutive
    calls filters them out the same way, and the median over rounds spread
    in time keeps the estimate central. On a quiet machine it is close to
    the plain median.

    Args:
        rounds (Iterable[Sequence[float]]): the times of each round's
            consecutive calls.

    Returns:
        float: the estimate, in the unit of the times.
    """
    return statistics.median(min(calls) for calls in rounds)


def measure_forward_latency(modules: Sequence[nn.Module],
                            example_inputs: Any,
                            *,
                            device: Union[str, torch.device] = 'cpu',
                            warmup: int = 3,
                            repeats: int = 10,
                            calls: int = 3) -> List[float]:
    """Latencies of several networks' forwards, timed interleaved.

    Each of ``repeats`` rounds calls every module ``calls`` times in a
    row, so that all of them see the same load; each module's latency is
    :func:`median_of_minima` of its calls. Modules run in eval mode under
    ``torch.no_grad`` and get their training flags back afterwards.

    Args:
        modules (Sequence[nn.Module]): e.g. the dense and the pruned
            network, already on ``device``.
        example_inputs (Tensor | tuple | dict): forward arguments on
            ``device``, e.g. a (N, 3, H, W) batch.
        device (str | torch.device): for synchronisation. Defaults to
            'cpu'.
        warmup (int): untimed calls of each module first. Defaults to 3.
        repeats (int): interleaved rounds. Defaults to 10.
        calls (int): consecutive calls per module and round. Defaults to
            3.

    Returns:
        List[float]: milliseconds per forward, in the order of
        ``modules``.
    """
    forwards = {
        index: functools.partial(call_module, module, example_inputs)
        for index, module in enumerate(modules)
    }
    times: List[List[List[float]]] = [[] for _ in modules]
    with contextlib.ExitStack() as stack:
        for module in modules:
            stack.enter_context(eval_mode(module))
        stack.enter_context(torch.no_grad())
        for round_times in interleaved_rounds(
                forwards, max(repeats, 1), calls=max(calls, 1),
                warmup=warmup, device=device):
            for index, seconds in round_times.items():
                times[index].append([s * 1e3 for s in seconds])
    return [median_of_minima(rounds) for rounds in times]


def measure_network_latency(module: nn.Module,
                            example_inputs: Any,
                            *,
                            device: Union[str, torch.device] = 'cpu',
                            warmup: int = 3,
                            repeats: int = 10,
                            calls: int = 3) -> float:
    """Latency of one network's forward in milliseconds; see
    :func:`measure_forward_latency`."""
    return measure_forward_latency([module], example_inputs, device=device,
                                   warmup=warmup, repeats=repeats,
                                   calls=calls)[0]
