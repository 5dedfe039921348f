"""HALP's latency model: layer latencies measured into a lookup table (LUT).

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv:2110.10811 / arXiv:2210.06659) predicts a network's
latency as the sum, over its convolutions, of the measured latency of one
convolution forward with the *active* input and output channel counts. One
module per concern:

* :mod:`.keys`: :class:`LayerSignature`, one layer, and HALP's key scheme
  ``f"{batch}_{cin}_{cout}_{fmap}_{k}_{stride}_{groups}"`` with its
  extensions (linear and pooling layers, non-square shapes, padding and
  dilation, conv + BN + ReLU units);
* :mod:`.tracing`: :func:`collect_layer_signatures` records every layer of
  a model from one forward;
* :mod:`.grid`: :func:`channel_grid` and :func:`latency_jobs` choose the
  grid points a table needs;
* :mod:`.timing`: :func:`measure_layer_latency` and :func:`build_lut`
  measure them, :func:`measure_forward_latency` times whole networks;
* :mod:`.table`: :class:`LatencyLUT` answers :meth:`LatencyLUT.lookup`
  exactly on measured keys and by bilinear interpolation in
  ``(cin, cout)`` elsewhere; :func:`check_compatible`;
* :mod:`.provenance`: the device fingerprint, batch and dtype a table
  holds for;
* :mod:`.model`: :class:`LatencyModel`, a table with the timed layers of
  one model, and :func:`predict_network_latency`, the sum over a network.

The extended model. HALP times convolutions only, which suits fused GPU
engines at large batch. In eager inference at small batch the work around
them is not negligible: convolutions in CNNs are followed by a
normalisation and an element-wise op (ReLU, or a residual add and ReLU),
and pooling layers cost time of their own. The extended model
(``epilogue=True`` in :meth:`LatencyLUT.cost` and
:func:`predict_network_latency`, pooling layers from
``collect_layer_signatures(..., pools=True)``) looks every convolution up
as a Conv2d + BatchNorm2d + ReLU unit (:meth:`LayerSignature.unit`) and
times pooling layers like any other layer. It has no fitted parameter.
Timing the unit rather than adding a separately timed ``BatchNorm2d +
ReLU`` also catches part of the cost of handing a fresh output from one op
to the next. A pruning budget given as a fraction of the dense latency
needs only predicted ratios; for absolute numbers, scale the prediction by
one measurement of the dense network (:func:`measure_network_latency`):
isolated layer timings miss what happens between layers in a network
(cache misses, weights streamed from memory and framework overhead on a
CPU; launches that overlap on a GPU). How closely the plain and the
extended model predict measured networks is in ``docs/benchmarks.md``
(HALP section).

Channel counts that are not a multiple of the CPU's vector width run
slower than the interpolation between multiples suggests, so measure the
grid on the channel counts the pruning can reach, as HALP does (its LUTs
step by 2 channels).
"""
from .grid import Job, channel_grid, latency_jobs
from .keys import (AVGPOOL, CHANNELWISE_KINDS, CONV, KINDS, LINEAR, MAXPOOL,
                   UNIT, UNITS, LayerSignature, parse_key)
from .model import LatencyModel, predict_network_latency
from .provenance import device_fingerprint, dtype_name, make_meta
from .table import LUT_FORMAT, REBUILD_HINT, LatencyLUT, check_compatible
from .timing import (build_lut, measure_forward_latency,
                     measure_layer_latency, measure_network_latency,
                     median_of_minima)
from .tracing import collect_layer_signatures

__all__ = [
    'LayerSignature', 'LatencyLUT', 'LatencyModel',
    'collect_layer_signatures', 'device_fingerprint', 'check_compatible',
    'channel_grid', 'latency_jobs', 'predict_network_latency',
    'measure_layer_latency', 'build_lut', 'median_of_minima',
    'measure_forward_latency', 'measure_network_latency', 'make_meta',
    'dtype_name', 'parse_key', 'Job', 'CONV', 'UNIT', 'LINEAR', 'MAXPOOL',
    'AVGPOOL', 'KINDS', 'CHANNELWISE_KINDS', 'UNITS', 'REBUILD_HINT',
    'LUT_FORMAT'
]
