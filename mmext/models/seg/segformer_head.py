"""The all-MLP decoder of SegFormer as an mmseg decode head.

Xie et al., "SegFormer: Simple and Efficient Design for Semantic Segmentation
with Transformers", NeurIPS 2021, arXiv:2105.15203 (Sec. 3.2, Eq. 4):

    F_i = Linear(C_i, C)(F_i)            for the four encoder levels
    F_i = Upsample(H/4 x W/4)(F_i)
    F   = Linear(4C, C)(Concat(F_i))     then BN and ReLU
    M   = Linear(C, N_cls)(F)            after dropout 0.1

The level projections have no norm and no activation. Concatenation order is
[F_4, F_3, F_2, F_1], as in the authors' release, so their fuse weights load
unchanged.

Computation: bilinear upsampling is linear and acts per channel, so it
commutes with the 1x1 fuse. :func:`fuse_levels` therefore folds the fuse
weight into each level projection and applies the product at the level's
own resolution, then upsamples C channels and sums: the same function (and
gradients for every parameter) without the [B, 4C, H/4, W/4] tensor and its
4C x C convolution at 1/4 resolution, which dominate the paper-literal
head's time (C = 768 for B2-B5).
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.registry import DefaultScope
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import nn

from mmext.models.utils import resolve_sync_norm
from mmext.registry import MODELS


def fuse_levels(features: Sequence[torch.Tensor],
                proj_weights: Sequence[torch.Tensor],
                proj_biases: Sequence[torch.Tensor],
                fuse_weight: torch.Tensor,
                align_corners: bool = False) -> torch.Tensor:
    """Project, upsample, concatenate ([F_4..F_1]) and fuse encoder levels.

    Equal to ``fuse(concat([up(proj_i(F_i)) for i in 3..0]))`` with
    ``fuse`` a bias-free 1x1 convolution, computed level by level.

    Args:
        features (Sequence[Tensor]): L maps, level i of shape
            [B, C_i, H_i, W_i]; level 0 is the finest (output size).
        proj_weights (Sequence[Tensor]): Level projections, [C, C_i, 1, 1].
        proj_biases (Sequence[Tensor]): Their biases, [C].
        fuse_weight (Tensor): Fuse conv weight [C, L * C, 1, 1]; input
            channel block ``L - 1 - i`` belongs to level i.
        align_corners (bool): ``align_corners`` of the bilinear upsampling.

    Returns:
        Tensor: Fused features [B, C, H_0, W_0] (before norm/activation).
    """
    num_levels = len(features)
    channels = fuse_weight.shape[0]
    size = features[0].shape[2:]
    fused = None
    for i, feature in enumerate(features):
        block = num_levels - 1 - i
        fuse_i = fuse_weight[:, block * channels:(block + 1) * channels, 0, 0]
        weight = (fuse_i @ proj_weights[i].flatten(1))[:, :, None, None]
        # Channels-last (free for MiT's outputs): CPU bilinear upsampling
        # is several times faster in that layout than on NCHW maps.
        feature = feature.contiguous(memory_format=torch.channels_last)
        level = F.conv2d(feature, weight, fuse_i @ proj_biases[i])
        if level.shape[2:] != size:
            level = F.interpolate(level, size=size, mode='bilinear',
                                  align_corners=align_corners)
        fused = level if fused is None else fused + level
    return fused


@MODELS.register_module()
class SegFormerHead(BaseDecodeHead):
    """SegFormer's all-MLP decode head (arXiv:2105.15203), for mmseg.

    Args:
        in_channels (Sequence[int]): Channels C_i of the encoder levels,
            e.g. ``[32, 64, 160, 256]`` for MiT-B0.
        channels (int): Decoder width C: 256 for B0/B1 and 768 for B2-B5 in
            the paper.
        num_classes (int): Classes.
        in_index (Sequence[int]): Which backbone outputs to use. Defaults
            to ``(0, 1, 2, 3)``.
        norm_cfg (dict): Norm after the fuse. Defaults to SyncBN, which
            falls back to BN (logged) where no CUDA process group exists.
        **kwargs: Further :class:`mmseg BaseDecodeHead` arguments
            (``dropout_ratio`` defaults to 0.1, ``align_corners``,
            ``loss_decode``, ``ignore_index``, ...).

    Shapes:
        Input: the backbone's list of [B, C_i, H / s_i, W / s_i] maps.
        Output: logits [B, num_classes, H / 4, W / 4].
    """

    def __init__(self, in_channels: Sequence[int], channels: int,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: dict = dict(type='SyncBN', requires_grad=True),
                 **kwargs) -> None:
        if len(in_channels) != len(in_index):
            raise ValueError(
                f'in_index: needs one entry per in_channels entry '
                f'({len(in_channels)}), got {list(in_index)}')
        norm_cfg = resolve_sync_norm(norm_cfg, 'SegFormerHead')
        # BaseDecodeHead builds `loss_decode` with mmseg's registry under the
        # current default scope: pin it to mmseg, so the head also builds
        # from mmext-scope code (unprefixed types are mmseg's losses).
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(list(in_channels), channels,
                             in_index=list(in_index),
                             input_transform='multiple_select',
                             norm_cfg=norm_cfg, **kwargs)
        self.level_projs = nn.ModuleList(
            nn.Conv2d(c, channels, 1) for c in self.in_channels)
        self.fuse_conv = nn.Conv2d(channels * len(self.in_channels),
                                   channels, 1, bias=False)
        self.fuse_norm = build_norm_layer(norm_cfg, channels)[1]
        self.fuse_act = build_activation_layer(self.act_cfg)

    def _forward_feature(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """Fused features [B, C, H / 4, W / 4] after norm and activation."""
        features = self._transform_inputs(inputs)
        fused = fuse_levels(features,
                            [p.weight for p in self.level_projs],
                            [p.bias for p in self.level_projs],
                            self.fuse_conv.weight, self.align_corners)
        return self.fuse_act(self.fuse_norm(fused))

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """Backbone maps -> logits [B, num_classes, H / 4, W / 4]."""
        return self.cls_seg(self._forward_feature(inputs))
