"""One inverse module per block of the attacked network (Dong et al.,
"Deep Neural Networks are Surprisingly Reversible: A Baseline for Zero-Shot
Inversion", arXiv 2107.06304: "divide-and-conquer inversion" inverts each
shallow block with a small module).

The paper's inverse architecture is not public. mmext's (an assumption):
a 3x3 convolution from the block's output channels to ``width``, then one
bilinear x2 upsampling followed by a 3x3 convolution per factor 2 of the
block's stride (the last to the block's exact input size), a 3x3
convolution back to the input channels, and a shortcut (identity, or a
1x1 convolution and bilinear resize when the channels or size differ),
BatchNorm and ReLU between convolutions. A residual block is close to the
identity, so the shortcut starts the inverse there.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['InverseBlock']

Shape = Tuple[int, int, int]


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def upsampling_sizes(in_size: Tuple[int, int],
                     out_size: Tuple[int, int]) -> List[Tuple[int, int]]:
    """The spatial sizes an inverse passes through: one per factor 2 of the
    block's stride, the last the block's input size.

    Args:
        in_size: The block's input ``(H, W)``.
        out_size: The block's output ``(h, w)``.

    Returns:
        ``[]`` for a non-strided block, else sizes growing to ``in_size``.
    """
    if tuple(in_size) == tuple(out_size):
        return []
    steps = max(1, round(math.log2(max(in_size[0] / out_size[0],
                                       in_size[1] / out_size[1]))))
    return [(math.ceil(in_size[0] / 2**(steps - k)),
             math.ceil(in_size[1] / 2**(steps - k)))
            for k in range(1, steps + 1)]


class InverseBlock(nn.Module):
    """Maps a block's output back to its input.

    Args:
        in_shape: The block's input ``(C, H, W)``: this module's output.
        out_shape: The block's output ``(C', h, w)``: this module's input.
        width: Channels inside; None takes ``max(C, C')``.

    Shapes:
        ``forward``: ``[N, C', h, w] -> [N, C, H, W]``.
    """

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int],
                 width: Optional[int] = None) -> None:
        super().__init__()
        self.in_shape: Shape = tuple(int(v) for v in in_shape)
        self.out_shape: Shape = tuple(int(v) for v in out_shape)
        in_channels, out_channels = self.in_shape[0], self.out_shape[0]
        width = width or max(in_channels, out_channels)
        self.sizes = upsampling_sizes(self.in_shape[1:], self.out_shape[1:])
        self.entry = _conv_bn_relu(out_channels, width)
        self.upsample = nn.ModuleList(
            _conv_bn_relu(width, width) for _ in self.sizes)
        self.exit = nn.Conv2d(width, in_channels, 3, padding=1)
        self.shortcut = nn.Identity() if in_channels == out_channels \
            else nn.Conv2d(out_channels, in_channels, 1)

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        """The block's input estimated from its ``outputs``.

        Args:
            outputs: ``[N, C', h, w]``.

        Returns:
            ``[N, C, H, W]``.
        """
        if tuple(outputs.shape[1:]) != self.out_shape:
            raise ValueError(
                f'InverseBlock: expects block outputs of shape [N, '
                f'{", ".join(map(str, self.out_shape))}], got '
                f'{list(outputs.shape)}')
        x = self.entry(outputs)
        for size, layer in zip(self.sizes, self.upsample):
            x = layer(F.interpolate(x, size=size, mode='bilinear',
                                    align_corners=False))
        shortcut = self.shortcut(outputs)
        if self.sizes:
            shortcut = F.interpolate(shortcut, size=self.in_shape[1:],
                                     mode='bilinear', align_corners=False)
        return self.exit(x) + shortcut
