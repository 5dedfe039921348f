"""Latency table keys: what sets a layer's latency, and its key.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv:2110.10811, Sec. 3.2) keys its measured convolution
latencies by::

    f"{batch}_{cin}_{cout}_{fmap}_{k}_{stride}_{groups}"

where ``fmap`` is the *input* spatial size and ``groups`` is ``cin`` for a
depthwise convolution and ``1`` otherwise. :class:`LayerSignature` describes
one layer and formats its keys, with these extensions, all optional:

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
  follows it: ``convbnrelu_`` + the convolution's key
  (:meth:`LayerSignature.unit`, the extended latency model of
  :mod:`mmext.pruning.latency`).

Latencies are in milliseconds (:data:`UNITS`).
"""
import dataclasses
import functools
from dataclasses import dataclass
from typing import Sequence, Tuple, Union

__all__ = [
    'LayerSignature', 'parse_key', 'CONV', 'UNIT', 'LINEAR', 'MAXPOOL',
    'AVGPOOL', 'KINDS', 'CHANNELWISE_KINDS', 'UNITS'
]

Pair = Tuple[int, int]

#: The unit of every latency in a table.
UNITS = 'ms'
CONV, UNIT, LINEAR, MAXPOOL, AVGPOOL = (
    'conv', 'convbnrelu', 'linear', 'maxpool', 'avgpool')
KINDS = (CONV, UNIT, LINEAR, MAXPOOL, AVGPOOL)
#: Kinds whose cost depends on one channel count (cin == cout == groups).
CHANNELWISE_KINDS = (MAXPOOL, AVGPOOL)
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
        return parse_key(self.key(self.in_channels, self.out_channels))[0]

    def unit(self) -> 'LayerSignature':
        """This convolution followed by ``BatchNorm2d + ReLU``, timed as one
        unit (its key has the prefix ``convbnrelu_``)."""
        if self.kind != CONV:
            raise ValueError(f'only a conv has a unit, not a {self.kind}')
        return dataclasses.replace(self, kind=UNIT)


@functools.lru_cache(maxsize=4096)
def unit_of(signature: LayerSignature) -> LayerSignature:
    """Cached :meth:`LayerSignature.unit` for fast lookups."""
    return signature.unit()


def parse_key(key: str) -> Tuple[str, int, int]:
    """Split a key into (family, cin, cout).

    Args:
        key (str): A key of :meth:`LayerSignature.key`.

    Returns:
        Tuple[str, int, int]: The family (see
        :meth:`LayerSignature.shape_key`), cin and cout.

    Raises:
        ValueError: If ``key`` has fewer than HALP's seven fields.
    """
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
