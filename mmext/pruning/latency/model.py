"""A latency table together with the timed layers of one model.

HALP (Shen et al., arXiv 2110.10811, Sec. 3.2) predicts a network's latency
as the sum of its layers' table latencies at their active channel counts.
:class:`LatencyModel` keeps the two things that prediction needs, the table
and the model's layer signatures, as one object;
:func:`predict_network_latency` is the sum itself.
"""
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from .keys import LayerSignature
from .table import LatencyLUT

__all__ = ['LatencyModel', 'predict_network_latency']

Channels = Mapping[str, Tuple[int, int]]


def predict_network_latency(signatures: Mapping[str, LayerSignature],
                            lut: LatencyLUT,
                            channels: Optional[Channels] = None,
                            epilogue: Optional[bool] = None) -> float:
    """Predicted latency of a network: the sum of its layers' latencies.

    Args:
        signatures (Mapping[str, LayerSignature]): the layers, e.g. from
            :func:`~.tracing.collect_layer_signatures`.
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


@dataclass(frozen=True)
class LatencyModel:
    """The latency table and the timed layers of one model.

    Args:
        lut (LatencyLUT): Measured latencies (milliseconds).
        signatures (Mapping[str, LayerSignature]): The model's timed
            layers, keyed by module name, in call order.
    """

    lut: LatencyLUT
    signatures: Mapping[str, LayerSignature]

    @property
    def extended(self) -> bool:
        """Whether convolutions are looked up with their BN + ReLU."""
        return self.lut.extended

    @property
    def batch(self) -> int:
        """The batch size the table was measured at."""
        return int(self.lut.meta['batch'])

    def layer_cost(self, name: str, cin: int, cout: int) -> float:
        """Latency (ms) of layer ``name`` with ``cin`` inputs and ``cout``
        outputs active.

        Raises:
            KeyError: If ``name`` is not a timed layer of the model.
        """
        return self.lut.cost(self.signatures[name], cin, cout)

    def predict(self,
                channels: Optional[Channels] = None,
                epilogue: Optional[bool] = None) -> float:
        """Predicted latency (ms): the sum over the timed layers.

        Args:
            channels (Mapping[str, tuple[int, int]], optional): Active
                (cin, cout) per layer name; layers not named keep their
                full channels.
            epilogue (bool, optional): See
                :func:`predict_network_latency`. None (default) follows
                :attr:`extended`.

        Returns:
            float: Milliseconds.
        """
        return predict_network_latency(self.signatures, self.lut, channels,
                                       epilogue)
