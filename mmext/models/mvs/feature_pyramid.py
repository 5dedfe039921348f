"""CVP-MVSNet's feature pyramid (Yang et al., "Cost Volume Pyramid Based
Depth Inference for Multi-View Stereo", CVPR 2020, arXiv:1912.08329,
Sec. 3.1): one small CNN applied to every level of an image pyramid."""
from typing import List, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['FeaturePyramid']

CHANNELS = (64, 64, 64, 32, 32, 32, 16, 16, 16)


class FeaturePyramid(nn.Module):
    """Features of an image pyramid by one shared 2-D CNN.

    The image pyramid halves the resolution by bilinear interpolation
    (``scale_factor=0.5``, ``align_corners=False``: each output pixel
    averages a 2x2 block) ``num_levels - 1`` times. At every level the same
    nine 3x3 convolutions (stride 1, padding 1, bias), each followed by
    LeakyReLU(0.1), map the image to features; there is no striding, so
    level ``l`` has ``H / 2^l x W / 2^l`` features.

    Args:
        in_channels (int): Image channels.
        channels (Sequence[int]): Output channels of the convolutions
            (paper: 64, 64, 64, 32, 32, 32, 16, 16, 16).
        negative_slope (float): LeakyReLU slope.
    """

    def __init__(self,
                 in_channels: int = 3,
                 channels: Sequence[int] = CHANNELS,
                 negative_slope: float = 0.1) -> None:
        super().__init__()
        widths = (in_channels, ) + tuple(channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=True)
            for cin, cout in zip(widths[:-1], widths[1:]))
        self.negative_slope = negative_slope
        self.out_channels = widths[-1]

    def extract(self, images: Tensor) -> Tensor:
        """The CNN at one level: ``[N, C_in, h, w]`` -> ``[N, C_out, h,
        w]``."""
        x = images
        for conv in self.convs:
            # in place on the convolution's fresh output, which its
            # backward does not read (autograd allows an in-place
            # leaky ReLU for slopes >= 0 only)
            x = F.leaky_relu(conv(x), self.negative_slope,
                             inplace=self.negative_slope >= 0)
        return x

    def forward(self, images: Tensor, num_levels: int) -> List[Tensor]:
        """Features of ``num_levels`` pyramid levels.

        Args:
            images (Tensor): ``[N, C_in, H, W]``.
            num_levels (int): Pyramid levels (>= 1).

        Returns:
            list[Tensor]: ``[N, C_out, H / 2^l, W / 2^l]`` for
            ``l = 0 .. num_levels - 1``, finest first.
        """
        features = [self.extract(images)]
        for _ in range(num_levels - 1):
            images = F.interpolate(images, scale_factor=0.5,
                                   mode='bilinear', align_corners=False)
            features.append(self.extract(images))
        return features
