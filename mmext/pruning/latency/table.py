"""The latency lookup table (LUT): storage, lookup and interpolation.

:class:`LatencyLUT` holds measured layer latencies by HALP key
(:mod:`.keys`; Shen et al., arXiv:2110.10811, Sec. 3.2). It answers
:meth:`LatencyLUT.lookup` exactly on measured keys and by bilinear
interpolation in ``(cin, cout)`` elsewhere, over the measured points of the
same key family (1-D in the channel count for channel-wise layers).
:func:`check_compatible` checks a table against the device, batch size and
dtype of the run that uses it.
"""
import json
import statistics
import warnings
from bisect import bisect_left
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch

from .keys import CONV, LayerSignature, parse_key, unit_of
from .provenance import device_fingerprint, dtype_name, make_meta

__all__ = ['LatencyLUT', 'check_compatible', 'REBUILD_HINT', 'LUT_FORMAT']

#: The tool that (re)builds a table, named by every error about one.
REBUILD_HINT = 'tools/pruning/build_latency_lut.py'
LUT_FORMAT = 'mmext-latency-lut/1'


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

    make_meta = staticmethod(make_meta)

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
                family, cin, cout = parse_key(key)
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
        family, cin, cout = parse_key(key)
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
        with its ``BatchNorm2d + ReLU`` (the extended latency model of
        :mod:`mmext.pruning.latency`).

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
            signature = unit_of(signature)
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
    if dtype is not None and meta.get('dtype') != dtype_name(dtype):
        raise ValueError(
            f'the latency LUT was measured in {meta.get("dtype")} but the '
            f'model runs in {dtype_name(dtype)}; rebuild the LUT with '
            f'{REBUILD_HINT}')
    here = device_fingerprint(device)
    if meta.get('device') != here:
        warnings.warn(
            f'the latency LUT was measured on {meta.get("device")!r} but '
            f'this device is {here!r}; its latencies may not hold here '
            f'(rebuild it with {REBUILD_HINT})')
