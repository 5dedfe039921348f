"""Mix Transformer (MiT), the hierarchical encoder of SegFormer.

Xie et al., "SegFormer: Simple and Efficient Design for Semantic Segmentation
with Transformers", NeurIPS 2021, arXiv:2105.15203 (Sec. 3.1).

Written from the paper. Four stages; stage ``i`` embeds overlapping patches
with a strided convolution (kernel 7 stride 4, then kernel 3 stride 2), runs
``depths[i]`` pre-norm blocks of efficient self-attention (keys and values
spatially reduced by a ``sr_ratio`` x ``sr_ratio`` strided convolution) and
Mix-FFN (linear, 3x3 depthwise convolution, GELU, linear), and ends with a
LayerNorm. There is no positional embedding: the depthwise convolution's
zero padding carries position.

Speed notes (CPU and GPU): attention calls
:func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels, no
attention matrix kept for the backward on flash paths), and the token tensor
[B, N, C] is never transposed for the convolutions: viewed as [B, H, W, C] and
permuted, it *is* an NCHW tensor in channels-last memory layout, which
PyTorch's convolutions take and return without copies.

Everything here is plain PyTorch; :class:`MiT` is the registered wrapper
that picks a paper variant (``arch='b0'`` .. ``'b5'``) and handles
initialisation.
"""
import math
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from mmext.models.layers import DropPath
from mmext.registry import MODELS

LN_EPS = 1e-6


@dataclass(frozen=True)
class MiTArch:
    """Sizes of one MiT variant (paper Table 6; mlp ratio 4 as released).

    Attributes:
        embed_dims: Channels C_i of the four stages.
        depths: Number of blocks L_i per stage.
        num_heads: Attention heads per stage.
        sr_ratios: Spatial-reduction side per stage (the paper's R_i is its
            square: 64, 16, 4, 1).
        mlp_ratio: Mix-FFN expansion E. The paper's table lists
            [8, 8, 4, 4], but the released weights and the paper's
            parameter counts use 4 everywhere.
        drop_path_rate: Stochastic-depth rate of the last block.
        decoder_channels: All-MLP decoder width C of the paper's recipe.
    """
    embed_dims: Tuple[int, int, int, int]
    depths: Tuple[int, int, int, int]
    num_heads: Tuple[int, int, int, int] = (1, 2, 5, 8)
    sr_ratios: Tuple[int, int, int, int] = (8, 4, 2, 1)
    mlp_ratio: int = 4
    drop_path_rate: float = 0.1
    decoder_channels: int = 768


_WIDE = (64, 128, 320, 512)
MIT_ARCHS: Dict[str, MiTArch] = {
    'b0': MiTArch((32, 64, 160, 256), (2, 2, 2, 2), decoder_channels=256),
    'b1': MiTArch(_WIDE, (2, 2, 2, 2), decoder_channels=256),
    'b2': MiTArch(_WIDE, (3, 4, 6, 3)),
    'b3': MiTArch(_WIDE, (3, 4, 18, 3)),
    'b4': MiTArch(_WIDE, (3, 8, 27, 3)),
    'b5': MiTArch(_WIDE, (3, 6, 40, 3)),
}

PATCH_SIZES = (7, 3, 3, 3)
PATCH_STRIDES = (4, 2, 2, 2)


def tokens_as_nchw(tokens: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """View tokens [B, H*W, C] as an NCHW tensor [B, C, H, W] without a copy.

    The result has channels-last strides; convolutions accept it directly.
    """
    batch, _, channels = tokens.shape
    return tokens.view(batch, hw[0], hw[1], channels).permute(0, 3, 1, 2)


def nchw_as_tokens(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> tokens [B, H*W, C] (free when ``x`` is channels-last)."""
    return x.permute(0, 2, 3, 1).flatten(1, 2)


class OverlapPatchEmbed(nn.Module):
    """Overlapping patch merging: strided conv (padding k // 2) + LayerNorm.

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels C.
        patch_size (int): Convolution kernel size.
        stride (int): Convolution stride.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int,
                 stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride,
                              padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Embed [B, C_in, H, W] into tokens [B, H' * W', C] and (H', W')."""
        x = self.proj(x.contiguous(memory_format=torch.channels_last))
        hw = (x.shape[2], x.shape[3])
        return self.norm(nchw_as_tokens(x)), hw


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention with spatially reduced keys and values.

    Queries come from all N tokens; keys and values from the N / sr^2 tokens
    of a ``sr x sr`` stride-``sr`` convolution followed by LayerNorm
    (paper Eq. 2 with R = sr^2). Scale ``head_dim ** -0.5``.

    Args:
        dim (int): Channels C.
        num_heads (int): Heads; must divide ``dim``.
        sr_ratio (int): Reduction side; 1 disables the reduction.
        qkv_bias (bool): Bias of the query/key/value projections.
        attn_drop (float): Dropout on attention weights (training only).
        proj_drop (float): Dropout after the output projection.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1,
                 qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'num_heads: {num_heads} does not divide the '
                             f'stage width {dim}')
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Attend. ``x``: tokens [B, N, C] of an H x W map; returns [B, N, C]."""
        batch, num_tokens, dim = x.shape
        head_dim = dim // self.num_heads
        q = self.q(x).view(batch, num_tokens, self.num_heads, head_dim)
        if self.sr_ratio > 1:
            reduced = self.sr(tokens_as_nchw(x, hw))
            x = self.norm(nchw_as_tokens(reduced))
        kv = self.kv(x).view(batch, -1, 2, self.num_heads, head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, M, d]
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k, v,
            dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(batch, num_tokens, dim)
        return self.proj_drop(self.proj(out))


class MixFFN(nn.Module):
    """Mix-FFN: Linear -> 3x3 depthwise conv -> GELU -> Linear (paper Eq. 3).

    Args:
        dim (int): Channels C.
        hidden_dim (int): Expanded channels (``mlp_ratio * C``).
        drop (float): Dropout after the activation and after ``fc2``.
    """

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1,
                                groups=hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """[B, N, C] tokens of an H x W map -> [B, N, C]."""
        hidden = self.dwconv(tokens_as_nchw(self.fc1(x), hw))
        hidden = self.drop(F.gelu(nchw_as_tokens(hidden)))
        return self.drop(self.fc2(hidden))


class MiTBlock(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + FFN(LN(x)).

    Args:
        dim (int): Channels C.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN expansion.
        sr_ratio (int): Key/value reduction side.
        qkv_bias (bool): Bias of q, k, v projections.
        drop (float): Dropout in the projections and FFN.
        attn_drop (float): Attention dropout.
        drop_path (float): Stochastic-depth probability of both branches.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 sr_ratio: int, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = EfficientSelfAttention(dim, num_heads, sr_ratio,
                                           qkv_bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.ffn = MixFFN(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """[B, N, C] -> [B, N, C]."""
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.ffn(self.norm2(x), hw))


class MiTStage(nn.Module):
    """Patch embedding, ``depth`` blocks and a closing LayerNorm.

    Args:
        in_channels (int): Input channels.
        dim (int): Stage width C.
        depth (int): Number of blocks.
        patch_size (int): Patch-embedding kernel.
        stride (int): Patch-embedding stride.
        block_kwargs (dict): Keyword arguments of every :class:`MiTBlock`
            except ``drop_path``.
        drop_paths (Sequence[float]): Stochastic-depth rate per block.
    """

    def __init__(self, in_channels: int, dim: int, depth: int,
                 patch_size: int, stride: int, block_kwargs: dict,
                 drop_paths: Sequence[float]) -> None:
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(in_channels, dim, patch_size,
                                             stride)
        self.blocks = nn.ModuleList(
            MiTBlock(dim, drop_path=drop_paths[j], **block_kwargs)
            for j in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)


class MixTransformer(nn.Module):
    """The MiT encoder with explicit sizes (plain PyTorch).

    Args:
        embed_dims (Sequence[int]): Stage widths C_1..C_4.
        depths (Sequence[int]): Blocks per stage.
        num_heads (Sequence[int]): Heads per stage.
        sr_ratios (Sequence[int]): Key/value reduction side per stage.
        mlp_ratio (float): Mix-FFN expansion. Defaults to 4.
        in_channels (int): Image channels. Defaults to 3.
        qkv_bias (bool): Bias of q, k, v. Defaults to True.
        drop_rate (float): Projection/FFN dropout. Defaults to 0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.
        drop_path_rate (float): Stochastic depth of the last block; block k
            of all K gets ``drop_path_rate * k / (K - 1)``. Defaults to 0.1.
        out_indices (Sequence[int]): Stages whose outputs are returned.
            Defaults to (0, 1, 2, 3).
        with_cp (bool): Recompute each block in the backward
            (``torch.utils.checkpoint``) to save activation memory.
            Defaults to False.

    Shapes:
        Input [B, in_channels, H, W]; output i is [B, C_i, ceil(H / s_i),
        ceil(W / s_i)] with strides s = 4, 8, 16, 32.
    """

    def __init__(self, embed_dims: Sequence[int], depths: Sequence[int],
                 num_heads: Sequence[int], sr_ratios: Sequence[int],
                 mlp_ratio: float = 4.0, in_channels: int = 3,
                 qkv_bias: bool = True, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_cp: bool = False) -> None:
        super().__init__()
        num_stages = len(embed_dims)
        for name, value in (('depths', depths), ('num_heads', num_heads),
                            ('sr_ratios', sr_ratios)):
            if len(value) != num_stages:
                raise ValueError(
                    f'{name}: needs one entry per stage ({num_stages}, as '
                    f'embed_dims), got {list(value)}')
        if num_stages > len(PATCH_SIZES):
            raise ValueError(f'embed_dims: MiT has at most '
                             f'{len(PATCH_SIZES)} stages, got {num_stages}')
        bad = [i for i in out_indices if not 0 <= i < num_stages]
        if bad:
            raise ValueError(f'out_indices: {bad} out of range; stages are '
                             f'0..{num_stages - 1}')
        self.embed_dims = tuple(embed_dims)
        self.out_indices = tuple(out_indices)
        self.with_cp = with_cp
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        channels, first = in_channels, 0
        for i, dim in enumerate(embed_dims):
            block_kwargs = dict(num_heads=num_heads[i], mlp_ratio=mlp_ratio,
                                sr_ratio=sr_ratios[i], qkv_bias=qkv_bias,
                                drop=drop_rate, attn_drop=attn_drop_rate)
            self.stages.append(
                MiTStage(channels, dim, depths[i], PATCH_SIZES[i],
                         PATCH_STRIDES[i], block_kwargs,
                         rates[first:first + depths[i]]))
            channels, first = dim, first + depths[i]

    def reset_parameters(self) -> None:
        """The paper's initialisation: truncated normal (std 0.02) linears,
        He-normal (fan-out) convolutions, unit LayerNorms, zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Conv2d):
                fan_out = (module.kernel_size[0] * module.kernel_size[1] *
                           module.out_channels // module.groups)
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
                nn.init.zeros_(module.bias)

    def _run_block(self, block: MiTBlock, x: torch.Tensor,
                   hw: Tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(block, x, hw, use_reentrant=False)
        return block(x, hw)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Images [B, in_channels, H, W] -> feature maps of ``out_indices``,
        each [B, C_i, H_i, W_i].

        The maps are in channels-last memory layout (views of the token
        tensors, no copy). Every PyTorch op accepts them, and convolutions
        and bilinear upsampling on CPU run several times faster on them
        than on NCHW-contiguous maps; call ``.contiguous()`` where code
        needs ``.view``.
        """
        outs = []
        for i, stage in enumerate(self.stages):
            tokens, hw = stage.patch_embed(x)
            for block in stage.blocks:
                tokens = self._run_block(block, tokens, hw)
            x = tokens_as_nchw(stage.norm(tokens), hw)
            if i in self.out_indices:
                outs.append(x)
            if i == max(self.out_indices):
                break
        return outs


@MODELS.register_module()
class MiT(MixTransformer):
    """Mix Transformer encoder of SegFormer (arXiv:2105.15203), by variant.

    ``arch`` picks the paper's B0..B5 sizes (:data:`MIT_ARCHS`); any size
    argument given explicitly overrides the variant's value. Works as the
    backbone of mmseg and mmdet models (``type='mmext.MiT'``).

    Args:
        arch (str): ``'b0'`` .. ``'b5'``. Defaults to ``'b0'``.
        embed_dims, depths, num_heads, sr_ratios (Sequence[int], optional):
            Override the variant's sizes.
        mlp_ratio (float, optional): Overrides the variant's FFN expansion.
        drop_path_rate (float, optional): Overrides the variant's 0.1.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=PATH, prefix='backbone.')`` loads weights in mmext's
            layout (convert NVlabs or mmseg files with
            ``tools/model_converters/segformer2mmext.py``). Without it the
            paper's random initialisation is used.
        **kwargs: :class:`MixTransformer` arguments (``out_indices``,
            ``with_cp``, ``in_channels``, ``qkv_bias``, ``drop_rate``,
            ``attn_drop_rate``).

    Examples:
        >>> backbone = MiT(arch='b0')
        >>> [f.shape[1] for f in backbone(torch.rand(1, 3, 64, 64))]
        [32, 64, 160, 256]
    """

    def __init__(self, arch: str = 'b0',
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 sr_ratios: Optional[Sequence[int]] = None,
                 mlp_ratio: Optional[float] = None,
                 drop_path_rate: Optional[float] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if arch not in MIT_ARCHS:
            raise ValueError(f'arch: unknown MiT variant {arch!r}; choose '
                             f'one of {sorted(MIT_ARCHS)}')
        spec = MIT_ARCHS[arch]

        def pick(value, default):
            return default if value is None else value

        super().__init__(
            embed_dims=pick(embed_dims, spec.embed_dims),
            depths=pick(depths, spec.depths),
            num_heads=pick(num_heads, spec.num_heads),
            sr_ratios=pick(sr_ratios, spec.sr_ratios),
            mlp_ratio=pick(mlp_ratio, spec.mlp_ratio),
            drop_path_rate=pick(drop_path_rate, spec.drop_path_rate),
            **kwargs)
        self.arch = arch
        self.init_cfg = init_cfg
        self.reset_parameters()

    def init_weights(self) -> None:
        """Load ``init_cfg`` (e.g. a converted checkpoint) if given; the
        paper's random initialisation is applied at construction."""
        if self.init_cfg is None:
            return
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [
            self.init_cfg]
        for cfg in cfgs:
            path = cfg.get('checkpoint') if cfg.get(
                'type') == 'Pretrained' else None
            if path and '://' not in str(path) and not osp.isfile(path):
                raise FileNotFoundError(
                    f'backbone.init_cfg.checkpoint: no file {path!r}. '
                    'Convert ImageNet MiT weights (NVlabs mit_bX.pth or '
                    "mmseg's mit_bX_*.pth) with `python tools/model_"
                    f'converters/segformer2mmext.py SRC {path} --src '
                    '{official,mmseg}`, or set model.backbone.init_cfg=None '
                    'to train from scratch.')
        from mmengine.model import initialize
        initialize(self, self.init_cfg)
