"""Panoptic SegFormer's plain-PyTorch parts against independent references.

Attention-to-mask against an einsum re-derivation of the paper's equations,
the value path against ``F.scaled_dot_product_attention``, the query filter
against brute force, and mask-wise merging on hand-made masks.
"""
import itertools

import pytest
import torch
import torch.nn.functional as F

from mmext.models.det.panoptic_segformer.mask_decoder import (
    AttentionToMask, MaskAttention, MaskDecoder)
from mmext.models.det.panoptic_segformer.merging import (mask_quality,
                                                         merge_masks)
from mmext.models.det.panoptic_segformer.query_filter import \
    repeated_hungarian

SHAPES = [(6, 8), (3, 4), (2, 2)]


def _reference_masks(module: AttentionToMask, logits, shapes):
    """Masks written out level by level with einsum (no module calls)."""
    start, per_level = 0, []
    height0, width0 = shapes[0]
    for mixer, (h, w) in zip(module.level_mixers, shapes):
        level = logits[..., start:start + h * w]  # [B, heads, Q, hw]
        start += h * w
        mixed = torch.einsum('bhqn,gh->bgqn', level, mixer.weight)
        mixed = F.relu(mixed + mixer.bias[None, :, None, None])
        b, g, q, _ = mixed.shape
        grid = mixed.permute(0, 2, 1, 3).reshape(b * q, g, h, w)
        grid = F.interpolate(grid, size=(height0, width0), mode='bilinear',
                             align_corners=False)
        per_level.append(grid.reshape(b, q, g, height0, width0))
    stacked = torch.cat(per_level, dim=2)  # [B, Q, levels*heads, H, W]
    fused = torch.einsum('bqchw,c->bqhw', stacked, module.fuse.weight[0])
    return F.relu(fused + module.fuse.bias[0])


def test_attention_to_mask_matches_equations():
    torch.manual_seed(0)
    module = AttentionToMask(num_heads=4, num_levels=3)
    tokens = sum(h * w for h, w in SHAPES)
    logits = torch.randn(2, 4, 5, tokens)
    masks = module(logits, SHAPES)
    assert masks.shape == (2, 5, 6, 8)
    assert (masks >= 0).all()
    torch.testing.assert_close(masks, _reference_masks(module, logits,
                                                       SHAPES))
    # about 240 parameters for 8 heads and 3 levels, as the paper says ~200
    assert sum(p.numel() for p in AttentionToMask(8, 3).parameters()) == 241


def test_mask_attention_values_are_sdpa_and_ignore_padding():
    torch.manual_seed(0)
    attn = MaskAttention(embed_dims=16, num_heads=4, num_levels=3)
    tokens = sum(h * w for h, w in SHAPES)
    query, memory = torch.randn(2, 5, 16), torch.randn(2, tokens, 16)
    padding = torch.zeros(2, tokens, dtype=torch.bool)
    padding[1, -7:] = True
    values, masks = attn(query, memory, SHAPES, padding)

    def heads(x):
        return x.reshape(2, -1, 4, 4).transpose(1, 2)

    expected = F.scaled_dot_product_attention(
        heads(attn.q(query)), heads(attn.k(memory)), heads(attn.v(memory)),
        attn_mask=~padding[:, None, None, :])
    expected = attn.proj(expected.transpose(1, 2).flatten(2))
    torch.testing.assert_close(values, expected)
    # padded memory does not reach the values
    changed = memory.clone()
    changed[1, -7:] += 100
    torch.testing.assert_close(attn(query, changed, SHAPES, padding)[0],
                               values)
    assert masks.shape == (2, 5, 6, 8)


def test_mask_decoder_layer_counts_and_query_padding():
    torch.manual_seed(0)
    decoder = MaskDecoder(num_layers=3, embed_dims=16, num_heads=4,
                          ffn_dims=32, self_attn=True).eval()
    tokens = sum(h * w for h, w in SHAPES)
    memory = torch.randn(1, tokens, 16)
    query, pos = torch.randn(1, 4, 16), torch.randn(1, 4, 16)
    queries, masks = decoder(query, pos, memory, SHAPES)
    assert len(queries) == 3 and len(masks) == 4
    assert masks[-1].shape == (1, 4, 6, 8)
    # a padding query changes nothing for the real ones
    padded_query = torch.cat([query, torch.randn(1, 2, 16)], 1)
    padded_pos = torch.cat([pos, torch.randn(1, 2, 16)], 1)
    query_padding = torch.tensor([[False] * 4 + [True] * 2])
    _, padded_masks = decoder(padded_query, padded_pos, memory, SHAPES,
                              query_padding=query_padding)
    torch.testing.assert_close(padded_masks[-1][:, :4], masks[-1])
    with pytest.raises(ValueError, match='num_layers'):
        MaskDecoder(num_layers=0)


def _brute_force_assignment(cost, allowed):
    """Minimum-cost one-to-one assignment of all targets to allowed rows."""
    num_gt = cost.shape[1]
    best, best_rows = None, None
    for rows in itertools.permutations(allowed, num_gt):
        total = sum(cost[r, c] for c, r in enumerate(rows))
        if best is None or total < best - 1e-9:
            best, best_rows = total, rows
    return best, best_rows


@pytest.mark.parametrize('seed', range(5))
def test_repeated_hungarian_is_optimal_round_by_round(seed):
    generator = torch.Generator().manual_seed(seed)
    cost = torch.rand(7, 2, generator=generator, dtype=torch.float64)
    queries, targets, rounds = repeated_hungarian(cost, max_rounds=3)
    assert len(set(queries.tolist())) == len(queries)  # no query reused
    assert rounds.tolist() == [0, 0, 1, 1, 2, 2]  # min(3, 7 // 2) rounds
    allowed = list(range(7))
    for round_index in range(3):
        picked = rounds == round_index
        total = cost[queries[picked], targets[picked]].sum().item()
        best, best_rows = _brute_force_assignment(cost, allowed)
        assert total == pytest.approx(best)
        allowed = [r for r in allowed if r not in best_rows]
    # round count follows num_queries // num_gt and never goes below one
    assert repeated_hungarian(torch.rand(3, 2), 3)[2].tolist() == [0, 0]
    assert len(repeated_hungarian(torch.rand(4, 0), 3)[0]) == 0
    with pytest.raises(ValueError, match='max_positives_per_gt'):
        repeated_hungarian(cost, 0)


def _square(top, left, size, value=0.9, shape=(10, 10)):
    mask = torch.zeros(shape)
    mask[top:top + size, left:left + size] = value
    return mask


def test_mask_quality_divides_by_count_plus_one():
    mask = _square(0, 0, 3, value=0.8)  # 9 pixels of 0.8
    mask[5, 5] = 0.3  # below the threshold: ignored
    assert mask_quality(mask[None]).item() == pytest.approx(0.8 * 9 / 10)
    assert mask_quality(torch.zeros(1, 4, 4)).item() == 0


def test_merge_masks_pastes_by_confidence_and_skips_overlaps():
    masks = torch.stack([
        _square(0, 0, 4),  # thing, label 2, best
        _square(1, 1, 4),  # thing overlapping the first by 9/16 > 0.4
        _square(6, 6, 3),  # thing, label 2, second instance
        torch.ones(10, 10) * 0.9,  # stuff (label 5) fills what is left
        _square(8, 0, 2),  # thing below the confidence threshold
    ])
    probs = torch.tensor([0.9, 0.85, 0.8, 0.5, 0.2])
    labels = torch.tensor([2, 3, 2, 5, 1])
    is_thing = torch.tensor([True, True, True, False, True])
    panoptic, scores = merge_masks(
        masks, probs, labels, is_thing, num_classes=6,
        stuff_overlap_thr=0.5)
    torch.testing.assert_close(scores,
                               probs * mask_quality(masks)**2)
    expected = torch.full((10, 10), 5)
    expected[:4, :4] = 2 + 1000
    expected[6:9, 6:9] = 2 + 2000
    torch.testing.assert_close(panoptic, expected)
    # with a stricter stuff overlap threshold the stuff mask is dropped and
    # the free pixels stay VOID (= num_classes)
    panoptic, _ = merge_masks(masks, probs, labels, is_thing, num_classes=6,
                              stuff_overlap_thr=0.2)
    assert (panoptic == 6).sum() == 100 - 16 - 9
