"""Latency lookup table (LUT) for latency-aware structural pruning.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv:2110.10811 / arXiv:2210.06659) predicts a network's
latency as the sum, over its convolutions, of the measured latency of one
convolution forward with the *active* input and output channel counts.
The measurements live in a dict keyed by HALP's scheme::

    f"{batch}_{cin}_{cout}_{fmap}_{k}_{stride}_{groups}"

where ``fmap`` is the *input* spatial size and ``groups`` is ``cin`` for a
depthwise convolution and ``1`` otherwise. This module builds, stores,
queries and interpolates such a table:

* :class:`LayerSignature` describes one layer and formats its keys.
* :func:`collect_layer_signatures` records every layer of a model from one
  forward.
* :func:`channel_grid` and :func:`latency_jobs` choose the grid points a
  table needs; :mod:`mmext.pruning.timing` measures them
  (``measure_layer_latency``, ``build_lut``).
* :class:`LatencyLUT` answers :meth:`LatencyLUT.lookup` exactly on
  measured keys and by bilinear interpolation in ``(cin, cout)`` elsewhere.
* :func:`predict_network_latency` sums the table over a network.

Key extensions over HALP's scheme, all optional:

* Linear layers: ``linear_{batch}_{cin}_{cout}_{fmap}_1_1_1``. The prefix
  keeps them apart from 1x1 convolutions, and keeps HALP's seven fields
  after it. ``fmap`` is the number of tokens per sample (``1`` for an
  ``(N, C)`` input, ``1xL`` for ``(N, L, C)``).
* Non-square maps, kernels and strides: ``HxW``, ``khxkw``, ``shxsw``.
* Padding and dilation other than HALP's implicit "same" padding
  (``padding == dilation * (k - 1) // 2``, ``dilation == 1``) add the
  suffixes ``_p{padding}`` and ``_d{dilation}``.
* Pooling layers, whose cost depends on one channel count:
  ``maxpool_``/``avgpool_`` keys, formatted like a depthwise convolution
  (``cin == cout == groups``).
* A convolution timed together with the ``BatchNorm2d + ReLU`` that
  follows it: ``convbnrelu_`` + the convolution's key (the extended model
  below).

The extended model. HALP times convolutions only, which suits fused GPU
engines at large batch. In eager CPU inference at batch 1 the work around
them is not negligible: for mmdet ResNet-18/50 classifiers at 224x224 on
2 threads of an AMD EPYC VM the plain sum under-predicted the measured
forward by 17-30 % at full width and by 32-50 % at width 16 over several
runs of ``tools/analysis_tools/benchmark_latency_model.py`` (the
64x112x112 max-pooling alone takes 3.5 ms, a tenth of ResNet-18).
Convolutions in CNNs are followed by a normalisation and an element-wise
op (ReLU, or a residual add and ReLU), so the extended model
(``epilogue=True`` in :meth:`LatencyLUT.cost` and
:func:`predict_network_latency`, pooling layers from
``collect_layer_signatures(..., pools=True)``) looks every convolution up
as a Conv2d + BatchNorm2d + ReLU unit (:meth:`LayerSignature.unit`) and
times pooling layers like any other layer. It has no fitted parameter.
Timing the unit rather than adding a separately timed ``BatchNorm2d +
ReLU`` also catches part of the cost of handing a fresh output from one
op to the next (4-6 % of the network at width 16). It predicted the
latency relative to the dense network (what a budget given as a fraction
of the dense latency sees) within 14 % for uniform widths 64-16 and
randomly pruned widths with channel counts that are multiples of 8, where
the plain sum was off by up to 32 %; its absolute prediction stayed 6-22 %
low, an offset that drifts with the load of a shared machine (in-network
cache misses, weights streamed from memory, framework overhead), so for
absolute numbers scale it by one measurement of the dense network
(:func:`measure_network_latency`).

Channel counts that are not a multiple of the CPU's vector width run
slower than the interpolation between multiples suggests (by 7-8 % summed
over a randomly pruned ResNet, up to 50 % for single layers), so measure
the grid on the channel counts the pruning can reach, as HALP does (its
LUTs step by 2 channels).
"""
import contextlib
import dataclasses
import datetime
import functools
import json
import math
import platform
import statistics
import warnings
from bisect import bisect_left
from dataclasses import dataclass
from typing import (Any, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Union)

import torch
from torch import nn

__all__ = [
    'LayerSignature', 'LatencyLUT', 'collect_layer_signatures',
    'device_fingerprint', 'check_compatible', 'channel_grid', 'latency_jobs',
    'predict_network_latency'
]

Pair = Tuple[int, int]
Job = Tuple['LayerSignature', Sequence[int], Sequence[int]]

REBUILD_HINT = 'tools/pruning/build_latency_lut.py'
LUT_FORMAT = 'mmext-latency-lut/1'
CONV, UNIT, LINEAR, MAXPOOL, AVGPOOL = (
    'conv', 'convbnrelu', 'linear', 'maxpool', 'avgpool')
KINDS = (CONV, UNIT, LINEAR, MAXPOOL, AVGPOOL)
# Kinds whose cost depends on one channel count (cin == cout == groups).
CHANNELWISE_KINDS = (MAXPOOL, AVGPOOL)
_POOLS = {nn.MaxPool2d: MAXPOOL, nn.AvgPool2d: AVGPOOL}
# Key token positions after the kind prefix: batch, cin, cout, fmap, k,
# stride, groups.
_CIN, _COUT, _GROUPS = 1, 2, 6


def _pair(value: Union[int, Sequence[int]]) -> Pair:
    """``3 -> (3, 3)``; ``(3, 1) -> (3, 1)``."""
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (int(first), int(second))


def _fmt(value: Pair) -> str:
    """``(56, 56) -> '56'``, ``(56, 28) -> '56x28'``."""
    return str(value[0]) if value[0] == value[1] else '{}x{}'.format(*value)


@dataclass(frozen=True)
class LayerSignature:
    """Everything but the channel counts that sets a layer's latency.

    Integer arguments of the 2-D fields are expanded to pairs.

    Attributes:
        kind (str): ``'conv'``, ``'convbnrelu'`` (a Conv2d followed by
            BatchNorm2d and ReLU, see :meth:`unit`), ``'linear'``,
            ``'maxpool'`` or ``'avgpool'``.
        batch (int): batch size N the latency is measured at.
        in_channels (int): full input channels (features for linear).
        out_channels (int): full output channels.
        in_size (Tuple[int, int]): (H, W) of the input feature map;
            ``(1, L)`` tokens per sample for linear (``(1, 1)`` for 2-D
            input).
        kernel_size (Tuple[int, int]): (kh, kw); ``(1, 1)`` for linear.
        stride (Tuple[int, int]): (sh, sw).
        padding (Tuple[int, int]): (ph, pw).
        dilation (Tuple[int, int]): (dh, dw).
        groups (int): convolution groups.
        bias (bool): whether the layer adds a bias.
    """

    kind: str
    batch: int
    in_channels: int
    out_channels: int
    in_size: Pair = (1, 1)
    kernel_size: Pair = (1, 1)
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {self.kind!r}')
        for name in ('in_size', 'kernel_size', 'stride', 'padding',
                     'dilation'):
            object.__setattr__(self, name, _pair(getattr(self, name)))

    @property
    def channelwise(self) -> bool:
        """Whether cost depends on one channel count (depthwise
        convolutions, pooling)."""
        return self.kind in CHANNELWISE_KINDS or (
            self.kind in (CONV, UNIT) and self.groups > 1
            and self.groups == self.in_channels == self.out_channels)

    @property
    def out_size(self) -> Pair:
        """(H, W) of the output feature map."""
        if self.kind == LINEAR:
            return self.in_size
        return tuple(  # type: ignore[return-value]
            (size + 2 * pad - dil * (k - 1) - 1) // step + 1
            for size, pad, dil, k, step in zip(
                self.in_size, self.padding, self.dilation,
                self.kernel_size, self.stride))

    def active(self, cin: int, cout: int) -> Tuple[int, int, int]:
        """Channel counts ``(cin, cout, groups)`` a layer with ``cin``
        active inputs and ``cout`` active outputs runs with.

        Channel-wise layers keep ``cin == cout == groups``; the smaller of
        the two counts is used for all three.
        """
        if self.channelwise:
            chans = min(cin, cout)
            return chans, chans, chans
        return cin, cout, self.groups

    def key(self, cin: int, cout: int) -> str:
        """LUT key of this layer with the given channel counts.

        HALP's ``{batch}_{cin}_{cout}_{fmap}_{k}_{stride}_{groups}``, with
        the extensions listed in the module docstring, e.g. a 3x3 stride-2
        convolution 64 -> 128 on a 56x56 input at batch 256 is
        ``'256_64_128_56_3_2_1'``.

        Args:
            cin (int): active input channels.
            cout (int): active output channels.

        Returns:
            str: the key.
        """
        cin, cout, groups = self.active(cin, cout)
        key = (f'{self.batch}_{cin}_{cout}_{_fmt(self.in_size)}_'
               f'{_fmt(self.kernel_size)}_{_fmt(self.stride)}_{groups}')
        if self.kind != CONV:
            key = f'{self.kind}_{key}'
        same = tuple(d * (k - 1) // 2
                     for d, k in zip(self.dilation, self.kernel_size))
        if self.padding != same:
            key += f'_p{_fmt(self.padding)}'
        if self.dilation != (1, 1):
            key += f'_d{_fmt(self.dilation)}'
        return key

    def shape_key(self) -> str:
        """The family of keys that differ only in channel counts.

        It is :meth:`key` with the channel fields (and a channel-wise
        layer's groups) replaced by ``*``, so it names the batch, map size,
        kernel, stride, padding, dilation, depthwise-ness and kind.
        Grid points of one family are interpolated together.
        """
        return _parse_key(self.key(self.in_channels, self.out_channels))[0]

    def unit(self) -> 'LayerSignature':
        """This convolution followed by ``BatchNorm2d + ReLU``, timed as one
        unit (its key has the prefix ``convbnrelu_``)."""
        if self.kind != CONV:
            raise ValueError(f'only a conv has a unit, not a {self.kind}')
        return dataclasses.replace(self, kind=UNIT)


@functools.lru_cache(maxsize=4096)
def _unit_of(signature: LayerSignature) -> LayerSignature:
    """Cached :meth:`LayerSignature.unit` for fast lookups."""
    return signature.unit()


def _parse_key(key: str) -> Tuple[str, int, int]:
    """Split a key into (family, cin, cout); see
    :meth:`LayerSignature.shape_key`."""
    tokens = key.split('_')
    prefix = [tokens.pop(0)] if tokens[0] in KINDS else []
    if len(tokens) < 7:
        raise ValueError(f'malformed latency LUT key {key!r}')
    cin, cout = int(tokens[_CIN]), int(tokens[_COUT])
    channelwise = bool(prefix) and prefix[0] in CHANNELWISE_KINDS or (
        cin == cout == int(tokens[_GROUPS]) > 1)
    tokens[_CIN] = tokens[_COUT] = '*'
    if channelwise:
        tokens[_GROUPS] = '*'
    return '_'.join(prefix + tokens), cin, cout


def _layer_kind(module: nn.Module, pools: bool) -> Optional[str]:
    """Kind of ``module`` if :func:`collect_layer_signatures` records it."""
    if isinstance(module, nn.Conv2d):
        return CONV
    if isinstance(module, nn.Linear):
        return LINEAR
    if pools:
        for pool_type, kind in _POOLS.items():
            if isinstance(module, pool_type):
                return kind
    return None


def _signature_of(module: nn.Module, kind: str, inp: torch.Tensor,
                  batch: Optional[int]) -> LayerSignature:
    """Signature of ``module`` called on ``inp`` (N, C, H, W) or (N, *, C).
    """
    batch = int(inp.shape[0]) if batch is None else batch
    if kind == LINEAR:
        return LayerSignature(
            LINEAR, batch, module.in_features, module.out_features,
            in_size=(1, math.prod(inp.shape[1:-1])),
            bias=module.bias is not None)
    size = (int(inp.shape[-2]), int(inp.shape[-1]))
    if kind == CONV:
        padding = module.padding
        if isinstance(padding, str):  # 'valid' or 'same' (odd kernels)
            padding = tuple(
                d * (k - 1) // 2 if padding == 'same' else 0
                for d, k in zip(module.dilation, module.kernel_size))
        return LayerSignature(
            CONV, batch, module.in_channels, module.out_channels, size,
            module.kernel_size, module.stride, padding, module.dilation,
            module.groups, module.bias is not None)
    chans = int(inp.shape[1])
    return LayerSignature(
        kind, batch, chans, chans, size, module.kernel_size,
        module.stride or module.kernel_size, module.padding,
        getattr(module, 'dilation', 1), chans)


def _call(module: nn.Module, inputs: Any) -> Any:
    """``module(inputs)``, unpacking a tuple/list or dict of arguments."""
    if isinstance(inputs, dict):
        return module(**inputs)
    if isinstance(inputs, (tuple, list)):
        return module(*inputs)
    return module(inputs)


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode inside; every submodule's training flag restored after.
    """
    flags = {layer: layer.training for layer in module.modules()}
    try:
        module.eval()
        yield
    finally:
        for layer, flag in flags.items():
            layer.training = flag


def collect_layer_signatures(module: nn.Module,
                             example_inputs: Any,
                             batch: Optional[int] = None,
                             pools: bool = False
                             ) -> Dict[str, LayerSignature]:
    """Record the signature of every Conv2d and Linear of ``module``.

    Runs one forward in eval mode under ``torch.no_grad`` with forward
    pre-hooks that read each layer's input size, then restores every
    submodule's training flag. A layer called more than once (e.g. a
    detection head shared by the FPN levels) keeps its first call only.

    Args:
        module (nn.Module): the model.
        example_inputs (Tensor | tuple | dict): forward arguments, e.g. a
            (N, 3, H, W) image batch.
        batch (int, optional): batch size recorded in the signatures;
            defaults to each layer's input batch.
        pools (bool): also record MaxPool2d and AvgPool2d layers (the
            extended latency model). Defaults to False.

    Returns:
        Dict[str, LayerSignature]: keyed by the ``named_modules`` name, in
        call order.
    """
    signatures: Dict[str, LayerSignature] = {}

    def record(name: str, kind: str):

        def hook(layer: nn.Module, args: tuple) -> None:
            if name not in signatures:
                signatures[name] = _signature_of(layer, kind, args[0], batch)

        return hook

    handles = [
        layer.register_forward_pre_hook(record(name, kind))
        for name, layer in module.named_modules()
        for kind in [_layer_kind(layer, pools)] if kind is not None
    ]
    try:
        with _eval_mode(module), torch.no_grad():
            _call(module, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return signatures


def _cpu_model() -> str:
    """The CPU's model name, e.g. 'AMD EPYC'."""
    try:
        with open('/proc/cpuinfo') as file:
            for line in file:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint(device: Union[str, torch.device] = 'cpu') -> str:
    """What a latency table's numbers depend on besides the layers.

    Args:
        device (str | torch.device): the device. Defaults to 'cpu'.

    Returns:
        str: e.g. ``'cpu:AMD EPYC|torch 2.13.0|threads 2'`` or
        ``'cuda:NVIDIA H100|torch 2.13.0|cudnn 91000'``.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        return (f'cuda:{torch.cuda.get_device_name(device)}|torch '
                f'{torch.__version__}|cudnn {torch.backends.cudnn.version()}')
    return (f'{device.type}:{_cpu_model()}|torch {torch.__version__}|'
            f'threads {torch.get_num_threads()}')


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace('torch.', '')


def _bracket(values: Sequence[int], x: float) -> Tuple[int, int]:
    """Indices of the two points of sorted ``values`` that interpolate (or
    extrapolate) at ``x``; equal indices on an exact hit or one point."""
    index = bisect_left(values, x)
    if index < len(values) and values[index] == x:
        return index, index
    if len(values) == 1:
        return 0, 0
    low = min(max(index - 1, 0), len(values) - 2)
    return low, low + 1


def _lerp(x0: float, y0: float, x1: float, y1: float, x: float) -> float:
    """The line through (x0, y0), (x1, y1) at ``x``."""
    return y0 if x0 == x1 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _interp1d(xs: Sequence[int], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear interpolation, linear extrapolation at the ends."""
    low, high = _bracket(xs, x)
    return _lerp(xs[low], ys[low], xs[high], ys[high], x)


class _Family:
    """Measured points of one key family, as rows of constant ``cin``.

    For a complete grid the row-then-column interpolation is bilinear;
    for the union of several grids it stays well defined.
    """

    def __init__(self) -> None:
        self.rows: Dict[int, Dict[int, float]] = {}

    def add(self, cin: int, cout: int, latency: float) -> None:
        self.rows.setdefault(cin, {})[cout] = latency

    def freeze(self) -> None:
        """Sort the rows for :meth:`interpolate`.

        Rows with a single point cannot follow ``cout``; they are left out
        of the interpolation when other rows have two or more.
        """
        least = min(2, max(len(row) for row in self.rows.values()))
        self.cins = sorted(c for c, row in self.rows.items()
                           if len(row) >= least)
        self.sorted_rows = [(sorted(row), [row[c] for c in sorted(row)])
                            for row in (self.rows[c] for c in self.cins)]

    def interpolate(self, cin: int, cout: int) -> float:
        """Latency at (cin, cout), ``>= 0``."""
        low, high = _bracket(self.cins, cin)
        values = [_interp1d(*self.sorted_rows[i], cout) for i in (low, high)]
        latency = _lerp(self.cins[low], values[0], self.cins[high],
                        values[1], cin)
        return max(latency, 0.0)


class LatencyLUT:
    """Measured layer latencies, in milliseconds, by HALP key.

    Channel-wise families (depthwise convolutions, pooling) are
    stored with ``cin == cout``, so their interpolation is 1-D in the
    channel count.

    Args:
        entries (Mapping[str, float], optional): key -> milliseconds.
        meta (Mapping[str, Any], optional): ``device`` fingerprint,
            ``batch``, ``dtype``, ``created``, ``mmext_version``,
            ``units``.

    Attributes:
        entries (Dict[str, float]): key -> milliseconds. After editing it
            directly, call :meth:`invalidate_cache`; :meth:`add` does.
        meta (Dict[str, Any]): provenance, see :meth:`make_meta`.
    """

    def __init__(self,
                 entries: Optional[Mapping[str, float]] = None,
                 meta: Optional[Mapping[str, Any]] = None) -> None:
        self.entries: Dict[str, float] = dict(entries or {})
        self.meta: Dict[str, Any] = dict(meta or {})
        self.invalidate_cache()

    @property
    def extended(self) -> bool:
        """Whether the table holds the extended model (conv + BN + ReLU
        units and pooling layers, ``meta['extended']``)."""
        return bool(self.meta.get('extended', False))

    @staticmethod
    def make_meta(device: Union[str, torch.device], batch: int,
                  dtype: torch.dtype = torch.float32) -> Dict[str, Any]:
        """Provenance of a table measured now on ``device``."""
        from mmext.version import __version__
        return dict(
            device=device_fingerprint(device), batch=batch,
            dtype=_dtype_name(dtype),
            created=datetime.datetime.now().isoformat(timespec='seconds'),
            mmext_version=__version__, units='ms',
            paper='HALP, Shen et al., NeurIPS 2022, arXiv:2110.10811')

    @classmethod
    def load(cls, path: str) -> 'LatencyLUT':
        """Read a table written by :meth:`save`."""
        with open(path) as file:
            data = json.load(file)
        if not isinstance(data, dict) or 'entries' not in data:
            raise ValueError(f'{path} is not a latency LUT (no "entries"); '
                             f'rebuild it with {REBUILD_HINT}')
        return cls({k: float(v) for k, v in data['entries'].items()},
                   data.get('meta', {}))

    def save(self, path: str) -> None:
        """Write the table as JSON; atomically, so a crash keeps the old
        file."""
        from mmext.utils.atomic import atomic_write
        text = json.dumps(
            dict(format=LUT_FORMAT, meta=self.meta, entries=self.entries),
            indent=1, sort_keys=True)

        def write(tmp: str) -> None:
            with open(tmp, 'w') as file:
                file.write(text)

        atomic_write(path, write, suffix='.json')

    @classmethod
    def median(cls, luts: Sequence['LatencyLUT']) -> 'LatencyLUT':
        """Per key, the median of several tables measured at different
        times (e.g. interleaved with other work on a shared machine); the
        meta of the first, plus ``rounds``."""
        if not luts:
            raise ValueError('LatencyLUT.median needs at least one table')
        keys = {key for lut in luts for key in lut.entries}
        entries = {
            key: statistics.median(
                [lut.entries[key] for lut in luts if key in lut.entries])
            for key in keys
        }
        return cls(entries, dict(luts[0].meta, rounds=len(luts)))

    def add(self, key: str, latency: float) -> None:
        """Store one measurement (milliseconds)."""
        self.entries[key] = float(latency)
        self.invalidate_cache()

    def invalidate_cache(self) -> None:
        """Forget the interpolation grids and results."""
        self._families: Optional[Dict[str, _Family]] = None
        self._memo: Dict[Tuple[LayerSignature, int, int], float] = {}

    def _index(self) -> Dict[str, _Family]:
        """Measured points grouped by family, built once per change."""
        if self._families is None:
            families: Dict[str, _Family] = {}
            for key, latency in self.entries.items():
                family, cin, cout = _parse_key(key)
                families.setdefault(family, _Family()).add(cin, cout, latency)
            for family in families.values():
                family.freeze()
            self._families = families
        return self._families

    def lookup(self, signature: LayerSignature, cin: int, cout: int) -> float:
        """Latency of one layer with ``cin``/``cout`` active channels.

        The measured value if the key is in the table; otherwise bilinear
        interpolation in (cin, cout) over the measured points of the same
        :meth:`LayerSignature.shape_key` (1-D in the channel count for
        channel-wise layers), linear extrapolation outside them, clamped
        to ``>= 0``. A layer without channels costs 0.

        Args:
            signature (LayerSignature): the layer, at the table's batch.
            cin (int): active input channels.
            cout (int): active output channels.

        Returns:
            float: milliseconds.

        Raises:
            KeyError: the table has no point of the layer's family.
        """
        if cin <= 0 or cout <= 0:
            return 0.0
        query = (signature, cin, cout)
        latency = self._memo.get(query)
        if latency is None:
            key = signature.key(cin, cout)
            latency = self.entries.get(key)
            if latency is None:
                latency = self._interpolate(key)
            self._memo[query] = latency
        return latency

    def _interpolate(self, key: str) -> float:
        family, cin, cout = _parse_key(key)
        points = self._index().get(family)
        if points is None:
            raise KeyError(
                f'latency LUT has no measurement for {key!r} (no point of '
                f'family {family!r}); rebuild the LUT for this model with '
                f'{REBUILD_HINT}')
        return points.interpolate(cin, cout)

    def cost(self,
             signature: LayerSignature,
             cin: int,
             cout: int,
             epilogue: Optional[bool] = None) -> float:
        """Latency of a layer, with ``epilogue`` a convolution's together
        with its ``BatchNorm2d + ReLU`` (the extended model of the module
        docstring).

        Args:
            signature (LayerSignature): the layer.
            cin (int): active input channels.
            cout (int): active output channels.
            epilogue (bool, optional): look a convolution up as its
                :meth:`LayerSignature.unit`. None (default) follows the
                table's :attr:`extended` (False, HALP, for tables without
                the units).

        Returns:
            float: milliseconds.
        """
        if epilogue is None:
            epilogue = self.extended
        if epilogue and signature.kind == CONV:
            signature = _unit_of(signature)
        return self.lookup(signature, cin, cout)


def check_compatible(meta_or_lut: Union[LatencyLUT, Mapping[str, Any]],
                     device: Union[str, torch.device],
                     batch: int,
                     dtype: Optional[torch.dtype] = None) -> None:
    """Check that a table fits the device, batch size and dtype in use.

    Args:
        meta_or_lut (LatencyLUT | Mapping): the table or its ``meta``.
        device (str | torch.device): where the model runs.
        batch (int): the batch size the model runs at.
        dtype (torch.dtype, optional): checked if given.

    Raises:
        ValueError: the batch size (or dtype) differs; latencies do not
            scale linearly with it.

    Warns:
        UserWarning: the device fingerprint differs.
    """
    meta = (meta_or_lut.meta
            if isinstance(meta_or_lut, LatencyLUT) else meta_or_lut)
    if meta.get('batch') != batch:
        raise ValueError(
            f'the latency LUT was measured at batch {meta.get("batch")} but '
            f'the model runs at batch {batch}; rebuild the LUT with '
            f'{REBUILD_HINT} --batch {batch}')
    if dtype is not None and meta.get('dtype') != _dtype_name(dtype):
        raise ValueError(
            f'the latency LUT was measured in {meta.get("dtype")} but the '
            f'model runs in {_dtype_name(dtype)}; rebuild the LUT with '
            f'{REBUILD_HINT}')
    here = device_fingerprint(device)
    if meta.get('device') != here:
        warnings.warn(
            f'the latency LUT was measured on {meta.get("device")!r} but '
            f'this device is {here!r}; its latencies may not hold here '
            f'(rebuild it with {REBUILD_HINT})')


def channel_grid(full: int, step: int, max_points: int) -> List[int]:
    """Channel counts to measure a layer at.

    Args:
        full (int): the layer's full channel count, ``>= 1``.
        step (int): grid step (e.g. HALP's neuron group size), ``>= 1``.
        max_points (int): most values returned, ``>= 2``.

    Returns:
        List[int]: ascending multiples of ``step`` below ``full``, and
        ``full``, thinned to about evenly spaced ``max_points`` values;
        the smallest value and ``full`` are always kept.
    """
    if full < 1 or step < 1 or max_points < 2:
        raise ValueError('channel_grid needs full >= 1, step >= 1 and '
                         f'max_points >= 2, got {full}, {step}, {max_points}')
    values = list(range(step, full, step)) + [full]
    if len(values) <= max_points:
        return values
    last = len(values) - 1
    picks = {round(i * last / (max_points - 1)) for i in range(max_points)}
    return [values[i] for i in sorted(picks)]


def latency_jobs(signatures: Iterable[LayerSignature],
                 step: int = 8,
                 max_points: int = 8,
                 epilogue: bool = False) -> List[Job]:
    """One :func:`build_lut` job per family the layers belong to.

    Each family is measured on :func:`channel_grid` up to the largest
    channel counts of its layers (a layer's count below ``step`` stays
    exact, e.g. an RGB stem's 3 inputs).

    Args:
        signatures (Iterable[LayerSignature]): the layers, e.g. the values
            of :func:`collect_layer_signatures` for several models.
        step (int): channel grid step. Defaults to 8.
        max_points (int): grid values per channel axis. Defaults to 8.
        epilogue (bool): also measure every convolution as a Conv2d +
            BatchNorm2d + ReLU unit (:meth:`LayerSignature.unit`), on the
            same grid. Defaults to False.

    Returns:
        List[Tuple[LayerSignature, List[int], List[int]]]: (a layer of the
        family, cin values, cout values).
    """
    largest: Dict[str, Tuple[LayerSignature, int, int]] = {}
    signatures = list(signatures)
    if epilogue:
        signatures += [s.unit() for s in signatures if s.kind == CONV]
    for sig in signatures:
        family = sig.shape_key()
        _, cin, cout = largest.get(family, (sig, 0, 0))
        largest[family] = (sig, max(cin, sig.in_channels),
                           max(cout, sig.out_channels))
    jobs: List[Job] = []
    for sig, cin, cout in largest.values():
        grid_step = step if sig.channelwise else math.lcm(step, sig.groups)
        jobs.append((sig, channel_grid(cin, grid_step, max_points),
                     channel_grid(cout, grid_step, max_points)))
    return jobs


def predict_network_latency(
        signatures: Mapping[str, LayerSignature],
        lut: LatencyLUT,
        channels: Optional[Mapping[str, Tuple[int, int]]] = None,
        epilogue: Optional[bool] = None) -> float:
    """Predicted latency of a network: the sum of its layers' latencies.

    Args:
        signatures (Mapping[str, LayerSignature]): the layers, e.g. from
            :func:`collect_layer_signatures`.
        lut (LatencyLUT): the table.
        channels (Mapping[str, Tuple[int, int]], optional): active
            (cin, cout) per layer name; layers not named keep their
            signature's channels.
        epilogue (bool, optional): time each convolution together with
            its ``BatchNorm2d + ReLU`` (:meth:`LatencyLUT.cost`). None
            (default) follows :attr:`LatencyLUT.extended`.

    Returns:
        float: milliseconds.
    """
    channels = channels or {}
    return sum(
        lut.cost(sig, *channels.get(name,
                                    (sig.in_channels, sig.out_channels)),
                 epilogue=epilogue) for name, sig in signatures.items())
