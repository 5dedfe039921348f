"""Panoptic SegFormer's mask decoder: masks read off attention maps.

Li et al., "Panoptic SegFormer: Delving Deeper into Panoptic Segmentation
with Transformers", CVPR 2022 (arXiv 2109.03814), Sec. 3.4. Each query
cross-attends to the encoder memory of the three finest levels (strides 8,
16 and 32); the pre-softmax attention logits of every head and level pass
through a tiny per-level head mixer, are resized to the stride-8 grid and
fused into one non-negative mask per query ("attention-to-mask"). The
official code's layer layout (post-norm, ReLU masks without a sigmoid, a
final attention-only tail) is followed; see ``configs/panoptic_segformer``.

Plain PyTorch with explicit arguments; the registered head builds it.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LevelShapes = Sequence[Tuple[int, int]]


def _with_pos(query: Tensor, query_pos: Optional[Tensor]) -> Tensor:
    return query if query_pos is None else query + query_pos


class AttentionToMask(nn.Module):
    """Fuse multi-level attention logits into one mask per query.

    Per level: ``Linear(heads -> heads) + ReLU`` over the head axis; levels
    are resized bilinearly to the first level's grid, concatenated and fused
    by ``Linear(levels * heads -> 1) + ReLU``. About 240 parameters for 8
    heads and 3 levels (the paper's "~200").

    Args:
        num_heads: Attention heads ``h``.
        num_levels: Memory levels ``n`` the logits span.
    """

    def __init__(self, num_heads: int, num_levels: int = 3) -> None:
        super().__init__()
        self.level_mixers = nn.ModuleList(
            nn.Linear(num_heads, num_heads) for _ in range(num_levels))
        self.fuse = nn.Linear(num_levels * num_heads, 1)

    def forward(self, logits: Tensor, level_shapes: LevelShapes) -> Tensor:
        """Masks from attention logits.

        Args:
            logits: ``[B, h, Q, L]`` pre-softmax attention logits, ``L`` the
                memory tokens of all levels in order.
            level_shapes: ``(H_l, W_l)`` of each level; ``sum H_l W_l = L``.

        Returns:
            ``[B, Q, H_0, W_0]`` non-negative masks on the first level grid.
        """
        batch, heads, queries, _ = logits.shape
        height0, width0 = level_shapes[0]
        per_level = logits.split([h * w for h, w in level_shapes], dim=-1)
        resized = []
        for mixer, level, (height, width) in zip(self.level_mixers, per_level,
                                                 level_shapes):
            mixed = F.relu(mixer(level.permute(0, 2, 3, 1)))  # [B,Q,HW,h]
            mixed = mixed.permute(0, 1, 3, 2).reshape(batch * queries, heads,
                                                      height, width)
            if (height, width) != (height0, width0):
                mixed = F.interpolate(mixed, size=(height0, width0),
                                      mode='bilinear', align_corners=False)
            resized.append(mixed)
        stacked = torch.cat(resized, dim=1).permute(0, 2, 3, 1)
        masks = F.relu(self.fuse(stacked)).squeeze(-1)
        return masks.reshape(batch, queries, height0, width0)


class MaskAttention(nn.Module):
    """Cross-attention that also returns its masks.

    Args:
        embed_dims: Channels ``C``.
        num_heads: Heads ``h``.
        num_levels: Memory levels used for the masks.
        with_value: ``False`` for the decoder's tail, which only needs the
            masks (no value or output projections).
    """

    def __init__(self, embed_dims: int, num_heads: int, num_levels: int = 3,
                 with_value: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'num_heads: {num_heads} must divide embed_dims '
                             f'{embed_dims}')
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads)**-0.5
        self.q = nn.Linear(embed_dims, embed_dims)
        self.k = nn.Linear(embed_dims, embed_dims)
        self.with_value = with_value
        if with_value:
            self.v = nn.Linear(embed_dims, embed_dims)
            self.proj = nn.Linear(embed_dims, embed_dims)
        self.to_mask = AttentionToMask(num_heads, num_levels)

    def _heads(self, x: Tensor) -> Tensor:
        batch, tokens, channels = x.shape
        return x.reshape(batch, tokens, self.num_heads,
                         channels // self.num_heads).transpose(1, 2)

    def forward(self, query: Tensor, memory: Tensor,
                level_shapes: LevelShapes,
                memory_padding: Optional[Tensor] = None
                ) -> Tuple[Optional[Tensor], Tensor]:
        """Attend and make masks.

        Args:
            query: ``[B, Q, C]`` queries (positional embedding included).
            memory: ``[B, L, C]`` encoder memory of the mask levels.
            level_shapes: ``(H_l, W_l)`` per level.
            memory_padding: ``[B, L]``, True on padded pixels; they get no
                attention weight (the official code ignores padding, which
                is only safe with one unpadded image per GPU).

        Returns:
            ``([B, Q, C] attended values or None for the tail,
            [B, Q, H_0, W_0] masks)``.
        """
        q = self._heads(self.q(query))
        k = self._heads(self.k(memory))
        logits = (q * self.scale) @ k.transpose(-2, -1)  # [B, h, Q, L]
        masks = self.to_mask(logits, level_shapes)
        if not self.with_value:
            return None, masks
        if memory_padding is not None:
            logits = logits.masked_fill(memory_padding[:, None, None, :],
                                        float('-inf'))
        weights = logits.softmax(dim=-1)
        values = weights @ self._heads(self.v(memory))  # [B, h, Q, C/h]
        values = values.transpose(1, 2).flatten(2)
        return self.proj(values), masks


class MaskDecoderLayer(nn.Module):
    """One post-norm mask-decoder layer.

    ``[self-attention + LN] -> mask cross-attention + LN -> FFN + LN``.
    The input already holds the positional embedding (see
    :class:`MaskDecoder`), so queries, keys and values of the self-attention
    are all the input, as in the official ``Block``.

    Args:
        embed_dims: Channels ``C``.
        num_heads: Heads.
        ffn_dims: Hidden width of the GELU FFN.
        self_attn: Add self-attention among the queries (the official
            stuff decoder has it, the thing decoder does not).
        num_levels: Memory levels used for the masks.
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8,
                 ffn_dims: int = 1024, self_attn: bool = False,
                 num_levels: int = 3) -> None:
        super().__init__()
        self.self_attn = (nn.MultiheadAttention(
            embed_dims, num_heads, batch_first=True) if self_attn else None)
        self.self_norm = nn.LayerNorm(embed_dims, eps=1e-6) if self_attn \
            else None
        self.cross_attn = MaskAttention(embed_dims, num_heads, num_levels)
        self.cross_norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, ffn_dims), nn.GELU(),
            nn.Linear(ffn_dims, embed_dims))
        self.ffn_norm = nn.LayerNorm(embed_dims, eps=1e-6)

    def forward(self, query: Tensor, memory: Tensor,
                level_shapes: LevelShapes,
                memory_padding: Optional[Tensor] = None,
                query_padding: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        """Update the queries and predict masks.

        Args:
            query: ``[B, Q, C]`` (positional embedding included).
            memory: ``[B, L, C]``.
            level_shapes: ``(H_l, W_l)`` per level.
            memory_padding: ``[B, L]`` bool, True on padding, or None.
            query_padding: ``[B, Q]`` bool, True on padding queries (kept
                out of self-attention), or None.

        Returns:
            ``([B, Q, C] queries, [B, Q, H_0, W_0] masks)``.
        """
        if self.self_attn is not None:
            attended = self.self_attn(query, query, query,
                                      key_padding_mask=query_padding,
                                      need_weights=False)[0]
            query = self.self_norm(query + attended)
        attended, masks = self.cross_attn(query, memory, level_shapes,
                                          memory_padding)
        query = self.cross_norm(query + attended)
        query = self.ffn_norm(query + self.ffn(query))
        return query, masks


class MaskDecoder(nn.Module):
    """A stack of mask-decoder layers plus the attention-only tail.

    As in the official code, the positional embedding is added to the
    queries before every layer and before the tail, so the residual stream
    carries it (DETR instead adds it to attention queries and keys only).

    Args:
        num_layers: Layers with value paths (4 for things, 6 for stuff in
            the official code).
        embed_dims: Channels ``C``.
        num_heads: Heads.
        ffn_dims: FFN width.
        self_attn: Self-attention among queries in every layer.
        num_levels: Memory levels used (3 in the paper).
    """

    def __init__(self, num_layers: int, embed_dims: int = 256,
                 num_heads: int = 8, ffn_dims: int = 1024,
                 self_attn: bool = False, num_levels: int = 3) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers: expected >= 1, got {num_layers}')
        self.layers = nn.ModuleList(
            MaskDecoderLayer(embed_dims, num_heads, ffn_dims, self_attn,
                             num_levels) for _ in range(num_layers))
        self.tail = MaskAttention(embed_dims, num_heads, num_levels,
                                  with_value=False)
        # as the official MaskHead: Xavier-uniform for every weight matrix
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def forward(self, query: Tensor, query_pos: Optional[Tensor],
                memory: Tensor, level_shapes: LevelShapes,
                memory_padding: Optional[Tensor] = None,
                query_padding: Optional[Tensor] = None
                ) -> Tuple[List[Tensor], List[Tensor]]:
        """Run every layer.

        Args:
            query: ``[B, Q, C]``.
            query_pos: ``[B, Q, C]`` or None.
            memory, level_shapes, memory_padding, query_padding: as
                :meth:`MaskDecoderLayer.forward`.

        Returns:
            ``(queries, masks)``: ``num_layers`` query tensors ``[B, Q, C]``
            (one per layer) and ``num_layers + 1`` mask tensors
            ``[B, Q, H_0, W_0]``, the last one from the tail (the final
            prediction).
        """
        queries, masks = [], []
        for layer in self.layers:
            query, layer_masks = layer(_with_pos(query, query_pos), memory,
                                       level_shapes, memory_padding,
                                       query_padding)
            queries.append(query)
            masks.append(layer_masks)
        masks.append(self.tail(_with_pos(query, query_pos), memory,
                               level_shapes)[1])
        return queries, masks
