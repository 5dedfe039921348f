"""CVP-MVSNet's 3-D cost-volume regulariser (Yang et al., CVPR 2020,
arXiv:1912.08329, Sec. 3.4): a small 3-D U-Net with one stride-2 stage,
shared by all pyramid levels."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['ConvBnReLU3d', 'DeconvBnReLU3d', 'CostRegularization3D']


class ConvBnReLU3d(nn.Module):
    """3x3x3 convolution (no bias), BatchNorm3d, ReLU.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride in D, H and W.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, stride=stride,
                              padding=1, bias=False)
        self.bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, D, H, W]`` -> ``[B, C_out, D', H', W']``."""
        # In place on BatchNorm's fresh output (its backward reads the
        # input, not the output): one volume less allocated per block.
        return F.relu(self.bn(self.conv(x)), inplace=True)


class DeconvBnReLU3d(nn.Module):
    """3x3x3 transposed convolution (no bias), BatchNorm3d, ReLU.

    With ``stride=2`` and ``output_padding=1`` it exactly doubles D, H and
    W; with ``stride=1`` it keeps them.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): 1 or 2.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose3d(in_channels, out_channels, 3,
                                         stride=stride, padding=1,
                                         output_padding=stride - 1,
                                         bias=False)
        self.bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, D, H, W]`` -> ``[B, C_out, sD, sH, sW]``."""
        return F.relu(self.bn(self.deconv(x)), inplace=True)


class CostRegularization3D(nn.Module):
    """Cost volume -> per-hypothesis logits.

    ``enc0``: two ConvBnReLU3d at full size (``c0`` channels); ``enc1``:
    one stride-2 ConvBnReLU3d to ``c1`` then two more; ``enc2``: three
    ConvBnReLU3d to ``c2`` (stride 1, half size); ``dec1``: a stride-1
    transposed convolution back to ``c1``, plus ``enc1``'s output; ``dec0``:
    a stride-2 transposed convolution to ``c0``, plus ``enc0``'s output;
    ``logits``: a 3x3x3 convolution (with bias) to one channel.

    D, H and W of the input must be even (the stride-2 stage and its
    transposed convolution must give back the input size).

    Args:
        in_channels (int): Channels of the cost volume (the feature width).
        channels (Sequence[int]): ``(c0, c1, c2)``; paper: (16, 32, 64).
    """

    def __init__(self,
                 in_channels: int = 16,
                 channels: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        c0, c1, c2 = channels
        self.enc0 = nn.Sequential(ConvBnReLU3d(in_channels, c0),
                                  ConvBnReLU3d(c0, c0))
        self.enc1 = nn.Sequential(ConvBnReLU3d(c0, c1, stride=2),
                                  ConvBnReLU3d(c1, c1), ConvBnReLU3d(c1, c1))
        self.enc2 = nn.Sequential(ConvBnReLU3d(c1, c2), ConvBnReLU3d(c2, c2),
                                  ConvBnReLU3d(c2, c2))
        self.dec1 = DeconvBnReLU3d(c2, c1, stride=1)
        self.dec0 = DeconvBnReLU3d(c1, c0, stride=2)
        self.logits = nn.Conv3d(c0, 1, 3, stride=1, padding=1, bias=True)

    def forward(self, cost: Tensor) -> Tensor:
        """Regularise a cost volume.

        Args:
            cost (Tensor): ``[B, C, D, H, W]`` with D, H, W even.

        Returns:
            Tensor: Logits ``[B, D, H, W]`` (softmax over D gives the
            probability volume).
        """
        x0 = self.enc0(cost)
        x1 = self.enc1(x0)
        x2 = self.enc2(x1)
        y1 = x1 + self.dec1(x2)
        y0 = x0 + self.dec0(y1)
        return self.logits(y0).squeeze(1)
