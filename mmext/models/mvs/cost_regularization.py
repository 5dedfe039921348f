"""CVP-MVSNet's 3-D cost-volume regulariser (Yang et al., CVPR 2020,
arXiv:1912.08329, Sec. 3.4): a small 3-D U-Net with one stride-2 stage,
shared by all pyramid levels."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    'EVAL_STATS', 'VolumeBatchNorm3d', 'ConvBnReLU3d', 'DeconvBnReLU3d',
    'CostRegularization3D'
]

# How BatchNorm normalises in eval mode: 'running' uses the running
# statistics (PyTorch's default, the released code); 'volume' normalises
# each cost volume by its own per-channel statistics, as training-mode
# BatchNorm does for a batch of one.
EVAL_STATS = ('running', 'volume')


def check_eval_stats(eval_stats: str, field: str = 'eval_stats') -> str:
    """Return ``eval_stats`` or raise ``ValueError`` naming ``field`` and
    the choices."""
    if eval_stats not in EVAL_STATS:
        raise ValueError(f'{field}: one of {EVAL_STATS}, got '
                         f'{eval_stats!r}')
    return eval_stats


class VolumeBatchNorm3d(nn.BatchNorm3d):
    """BatchNorm3d that can normalise by each volume's own statistics in
    eval mode.

    Training is unchanged (batch statistics, running averages updated), and
    so are the parameters and buffers: checkpoints of ``nn.BatchNorm3d``
    load as they are.

    One regulariser serves every pyramid level of CVP-MVSNet, so its
    running statistics average cost volumes of different kinds (the coarse
    level's 48 planes over the whole depth range, the finer levels' 8
    hypotheses around an estimate). With ``eval_stats='volume'`` each
    volume is normalised by its own mean and variance over ``D x H x W``
    per channel and sample (``F.instance_norm`` with this layer's affine
    parameters), which is what training-mode BatchNorm computes for one
    sample. An mmext option: on Shapes-MVS the running statistics put the
    depth of the unsupervised and self-trained networks 1-2 mm too close
    to the camera on their own training views, and the volume statistics
    cut that to 0.5-1 mm (``docs/benchmarks.md``, "BatchNorm statistics
    at inference").

    Args:
        num_features (int): Channels.
        eval_stats (str): ``'running'`` (default) or ``'volume'``.
    """

    def __init__(self, num_features: int, eval_stats: str = 'running') -> None:
        super().__init__(num_features)
        self.eval_stats = check_eval_stats(eval_stats)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, D, H, W]`` -> the same shape."""
        if self.training or self.eval_stats == 'running':
            return super().forward(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias,
                               use_input_stats=True, eps=self.eps)


class ConvBnReLU3d(nn.Module):
    """3x3x3 convolution (no bias), BatchNorm3d, ReLU.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride in D, H and W.
        eval_stats (str): See :class:`VolumeBatchNorm3d`.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 1, eval_stats: str = 'running') -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, stride=stride,
                              padding=1, bias=False)
        self.bn = VolumeBatchNorm3d(out_channels, eval_stats)

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
        eval_stats (str): See :class:`VolumeBatchNorm3d`.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 1, eval_stats: str = 'running') -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose3d(in_channels, out_channels, 3,
                                         stride=stride, padding=1,
                                         output_padding=stride - 1,
                                         bias=False)
        self.bn = VolumeBatchNorm3d(out_channels, eval_stats)

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
        eval_stats (str): BatchNorm statistics in eval mode, ``'running'``
            (released) or ``'volume'`` (see :class:`VolumeBatchNorm3d`).
    """

    def __init__(self,
                 in_channels: int = 16,
                 channels: Sequence[int] = (16, 32, 64),
                 eval_stats: str = 'running') -> None:
        super().__init__()
        c0, c1, c2 = channels

        def conv(cin: int, cout: int, stride: int = 1) -> ConvBnReLU3d:
            return ConvBnReLU3d(cin, cout, stride, eval_stats)

        self.enc0 = nn.Sequential(conv(in_channels, c0), conv(c0, c0))
        self.enc1 = nn.Sequential(conv(c0, c1, stride=2), conv(c1, c1),
                                  conv(c1, c1))
        self.enc2 = nn.Sequential(conv(c1, c2), conv(c2, c2), conv(c2, c2))
        self.dec1 = DeconvBnReLU3d(c2, c1, 1, eval_stats)
        self.dec0 = DeconvBnReLU3d(c1, c0, 2, eval_stats)
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
