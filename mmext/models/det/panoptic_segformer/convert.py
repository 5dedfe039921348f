"""Map the official Panoptic SegFormer checkpoints to mmext's layout.

Li et al., "Panoptic SegFormer: Delving Deeper into Panoptic Segmentation
with Transformers", CVPR 2022 (arXiv 2109.03814). The released checkpoints
(``panoptic_segformer_{r50_1x,r50_2x,r101_2x,...}.pth``) come from the
authors' repository zhiqi-li/Panoptic-SegFormer (package ``easymd``, mmdet
2.12 / mmcv-full 1.3.4); the layout below was read from its commit
``cdb9b68059e9ef825a3f7079c37aa835b1711227`` (``configs/panformer/base.py``,
``easymd/models/panformer/{panformer_head,detr_head,mask_head,
deformable_detr}.py``, ``easymd/models/detectors/*.py``) and from mmcv
v1.3.4's ``mmcv/cnn/bricks/transformer.py`` (``BaseTransformerLayer``'s
``attentions``/``ffns``/``norms``, ``FFN.layers``, ``MultiheadAttention.attn``)
and mmdet 2.x's ``mmdet/models/utils/transformer.py``. Only the facts (names
and shapes) were taken; no code.

Official layout (``PanSeg`` detector; every head module under
``bbox_head.``):

* ``backbone.*`` (mmdet ResNet) and ``neck.*`` (ChannelMapper with one
  extra conv): the same names in mmdet 2.x and 3.x;
* ``bbox_head.transformer.encoder.layers.{i}.attentions.0.*`` (deformable
  attention), ``.ffns.0.layers.{0.0,1}.*``, ``.norms.{0,1}.*``;
* ``bbox_head.transformer.decoder.layers.{i}.attentions.0.attn.*`` (mmcv's
  ``MultiheadAttention`` wrapping ``nn.MultiheadAttention``),
  ``.attentions.1.*`` (deformable), ``.ffns.0.*``, ``.norms.{0,1,2}.*``;
* ``bbox_head.transformer.level_embeds``,
  ``bbox_head.transformer.reference_points.*``,
  ``bbox_head.query_embedding.weight`` (``[Q, 2C]``, split (pos, query)),
  ``bbox_head.stuff_query.weight`` (``[S, 2C]``, split (query, pos));
* ``bbox_head.cls_branches.{i}``, ``bbox_head.reg_branches.{i}.{0,2,4}``
  (location decoder), ``bbox_head.cls_stuff_branches.{j}``;
* ``bbox_head.{things,stuff}_mask_head.blocks.{j}``: ``attn.{q,k,v,proj}``,
  ``attn.linear_l{1,2,3}.0`` (per-level head mixers, Linear + ReLU),
  ``attn.linear.0`` (level fuse), ``head_norm1`` (after cross-attention),
  ``mlp.fc1``/``mlp.fc2``, ``head_norm2`` (after the MLP) and, stuff only,
  ``self_attention.qkv`` (stacked ``[q; k; v]``), ``self_attention.proj``,
  ``norm3``; ``.attnen`` is the attention-only tail (``q``, ``k``,
  ``linear_l{1,2,3}.0``, ``linear.0``);
* ``bbox_head.reg_branches2.{j}`` and ``bbox_head.cls_thing_branches.{j}``:
  box and class branches on the thing mask decoder's layers. Their losses
  are multiplied by 0 in ``PanformerHead.loss_single_panoptic`` and
  ``get_bboxes`` never calls them, so they have no mmext counterpart and
  are dropped (reported).

Every mapping is a rename: the two layouts store the same tensors in the
same shapes (both query embeddings are split the same way in both code
bases, and ``self_attention.qkv`` rows are ``nn.MultiheadAttention``'s
``in_proj`` order).
"""
import re
from collections import OrderedDict
from typing import (Callable, Dict, List, Mapping, Optional, Pattern,
                    Sequence, Tuple)

import torch

StateDict = Mapping[str, torch.Tensor]

# ``{i}``: a layer index; ``{p}``: the rest of the name (parameter path).
_PLACEHOLDERS = {'i': r'(?P<i>\d+)', 'p': r'(?P<p>\w[\w.]*)'}


def _mask_decoder_rules(official: str, ours: str) -> List[Tuple[str, str]]:
    """Renames of one official ``MaskHead`` to an mmext ``MaskDecoder``."""
    src, dst = f'bbox_head.{official}', f'bbox_head.{ours}'
    block, layer = f'{src}.blocks.{{i}}', f'{dst}.layers.{{i}}'
    rules = [
        (f'{block}.attn.{name}.{{p}}', f'{layer}.cross_attn.{name}.{{p}}')
        for name in ('q', 'k', 'v', 'proj')
    ]
    rules += [
        (f'{block}.attn.linear_l{n}.0.{{p}}',
         f'{layer}.cross_attn.to_mask.level_mixers.{n - 1}.{{p}}')
        for n in (1, 2, 3)
    ]
    rules += [
        (f'{block}.attn.linear.0.{{p}}',
         f'{layer}.cross_attn.to_mask.fuse.{{p}}'),
        (f'{block}.head_norm1.{{p}}', f'{layer}.cross_norm.{{p}}'),
        (f'{block}.mlp.fc1.{{p}}', f'{layer}.ffn.0.{{p}}'),
        (f'{block}.mlp.fc2.{{p}}', f'{layer}.ffn.2.{{p}}'),
        (f'{block}.head_norm2.{{p}}', f'{layer}.ffn_norm.{{p}}'),
        (f'{block}.self_attention.qkv.weight',
         f'{layer}.self_attn.in_proj_weight'),
        (f'{block}.self_attention.qkv.bias',
         f'{layer}.self_attn.in_proj_bias'),
        (f'{block}.self_attention.proj.{{p}}',
         f'{layer}.self_attn.out_proj.{{p}}'),
        (f'{block}.norm3.{{p}}', f'{layer}.self_norm.{{p}}'),
        (f'{src}.attnen.q.{{p}}', f'{dst}.tail.q.{{p}}'),
        (f'{src}.attnen.k.{{p}}', f'{dst}.tail.k.{{p}}'),
        (f'{src}.attnen.linear.0.{{p}}', f'{dst}.tail.to_mask.fuse.{{p}}'),
    ]
    rules += [(f'{src}.attnen.linear_l{n}.0.{{p}}',
               f'{dst}.tail.to_mask.level_mixers.{n - 1}.{{p}}')
              for n in (1, 2, 3)]
    return rules


_ENC = 'bbox_head.transformer.encoder.layers.{i}'
_DEC = 'bbox_head.transformer.decoder.layers.{i}'

#: (official template, mmext template) pairs, tried in order.
RENAMES: List[Tuple[str, str]] = [
    ('backbone.{p}', 'backbone.{p}'),
    ('neck.{p}', 'neck.{p}'),
    (f'{_ENC}.attentions.0.{{p}}', 'encoder.layers.{i}.self_attn.{p}'),
    (f'{_ENC}.ffns.0.{{p}}', 'encoder.layers.{i}.ffn.{p}'),
    (f'{_ENC}.norms.{{p}}', 'encoder.layers.{i}.norms.{p}'),
    # mmcv 1.x MultiheadAttention keeps nn.MultiheadAttention as ``.attn``,
    # so does mmcv 2.x: attentions.0.attn.* -> self_attn.attn.*
    (f'{_DEC}.attentions.0.{{p}}', 'decoder.layers.{i}.self_attn.{p}'),
    (f'{_DEC}.attentions.1.{{p}}', 'decoder.layers.{i}.cross_attn.{p}'),
    (f'{_DEC}.ffns.0.{{p}}', 'decoder.layers.{i}.ffn.{p}'),
    (f'{_DEC}.norms.{{p}}', 'decoder.layers.{i}.norms.{p}'),
    ('bbox_head.transformer.level_embeds', 'level_embed'),
    ('bbox_head.transformer.reference_points.{p}', 'reference_points_fc.{p}'),
    ('bbox_head.query_embedding.weight', 'query_embedding.weight'),
    ('bbox_head.cls_branches.{p}', 'bbox_head.cls_branches.{p}'),
    ('bbox_head.reg_branches.{p}', 'bbox_head.reg_branches.{p}'),
    ('bbox_head.stuff_query.weight', 'bbox_head.stuff_query.weight'),
    ('bbox_head.cls_stuff_branches.{p}', 'bbox_head.stuff_cls_branches.{p}'),
    *_mask_decoder_rules('things_mask_head', 'thing_mask_decoder'),
    *_mask_decoder_rules('stuff_mask_head', 'stuff_mask_decoder'),
]

_UNUSED = ('multiplied by 0 in PanformerHead.loss_single_panoptic and never '
           'called by get_bboxes; no mmext counterpart')

#: (official template, reason) of keys left out on purpose.
DROPPED: List[Tuple[str, str]] = [
    ('bbox_head.reg_branches2.{p}',
     'box branches on the thing mask decoder layers: their L1/GIoU losses '
     'are ' + _UNUSED),
    ('bbox_head.cls_thing_branches.{p}',
     'class branches on the thing mask decoder layers (the last included): '
     'their focal losses are ' + _UNUSED),
]


def _compile(template: str) -> Pattern:
    parts = re.split(r'\{(\w)\}', template)
    regex = ''.join(
        re.escape(part) if n % 2 == 0 else _PLACEHOLDERS[part]
        for n, part in enumerate(parts))
    return re.compile(regex)


def _fill(template: str, match: 're.Match[str]') -> str:
    return re.sub(r'\{(\w)\}', lambda m: match.group(m.group(1)), template)


_FORWARD: List[Tuple[Pattern, str]] = [(_compile(s), d) for s, d in RENAMES]
_BACKWARD: List[Tuple[Pattern, str]] = [(_compile(d), s) for s, d in RENAMES]
_DROPPED: List[Tuple[Pattern, str, str]] = [
    (_compile(t), t, why) for t, why in DROPPED
]


def _rename(key: str, rules: Sequence[Tuple[Pattern, str]]) -> Optional[str]:
    for pattern, target in rules:
        match = pattern.fullmatch(key)
        if match:
            return _fill(target, match)
    return None


def official_key(mmext_key: str) -> Optional[str]:
    """The official name an mmext state-dict key is converted from, or None
    when no rule produces it."""
    return _rename(mmext_key, _BACKWARD)


def convert_official_state_dict(
        state_dict: StateDict,
        expected: Optional[Mapping[str, torch.Tensor]] = None,
        log: Optional[Callable[[str], None]] = print
) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an official Panoptic SegFormer state dict to mmext's layout.

    Args:
        state_dict: The official model's state dict (mmdet 2.x names, see
            the module docstring), e.g. ``torch.load(...)['state_dict']``.
        expected: The target model's state dict (e.g.
            ``model.state_dict()`` of the mmext ``PanopticSegFormer`` built
            from ``configs/_base_/models/panoptic-segformer_r50.py``). When
            given, the result must have exactly its keys and shapes.
        log: Receives one note on the dropped keys (None: silent).

    Returns:
        The converted state dict, in the source's order; tensors are shared
        with ``state_dict`` (no copies).

    Raises:
        KeyError: Official keys no rule understands, or (with ``expected``)
            keys the model needs that the source lacks (named with their
            official names) or converted keys the model does not have; all
            listed.
        ValueError: (with ``expected``) tensors whose shapes differ from the
            model's, all listed.
    """
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    sources: Dict[str, str] = {}
    dropped: Dict[str, List[str]] = {}
    unknown: List[str] = []
    for key, value in state_dict.items():
        new_key = _rename(key, _FORWARD)
        if new_key is None:
            drop = next((t for p, t, _ in _DROPPED if p.fullmatch(key)), None)
            if drop is None:
                unknown.append(key)
            else:
                dropped.setdefault(drop, []).append(key)
            continue
        if new_key in converted:
            raise KeyError(f'{key!r} and {sources[new_key]!r} both map to '
                           f'{new_key!r}')
        converted[new_key] = value
        sources[new_key] = key
    if unknown:
        raise KeyError(
            f'{len(unknown)} key(s) not understood as an official Panoptic '
            f'SegFormer (zhiqi-li/Panoptic-SegFormer) checkpoint: '
            f'{sorted(unknown)}')
    if dropped and log is not None:
        reasons = {t: why for _, t, why in _DROPPED}
        log('panoptic_segformer: dropped ' + '; '.join(
            f'{len(keys)} official keys {template.replace("{p}", "*")} '
            f'({reasons[template]})' for template, keys in dropped.items()))
    if expected is not None:
        check_converted(converted, expected)
    return converted


def check_converted(converted: Mapping[str, torch.Tensor],
                    expected: Mapping[str, torch.Tensor]) -> None:
    """Check converted keys and shapes against the target model's.

    Args:
        converted: A :func:`convert_official_state_dict` result.
        expected: The mmext model's state dict.

    Raises:
        KeyError: Keys the model needs that ``converted`` lacks, or keys the
            model does not have; all listed with their official names.
        ValueError: Tensors whose shapes differ from the model's, listed.
    """

    def both(key: str) -> str:
        return f'{official_key(key) or "(no official source)"} (-> {key})'

    missing = [k for k in expected if k not in converted]
    extra = [k for k in converted if k not in expected]
    lines = []
    if missing:
        lines.append(f'{len(missing)} key(s) the mmext model needs are '
                     'missing from the official checkpoint: ' +
                     ', '.join(map(both, missing)))
    if extra:
        lines.append(f'{len(extra)} converted key(s) the mmext model does '
                     'not have (wrong config?): ' +
                     ', '.join(map(both, extra)))
    if lines:
        raise KeyError('; '.join(lines))
    wrong = [
        f'{both(k)}: {tuple(v.shape)}, the model has '
        f'{tuple(expected[k].shape)}' for k, v in converted.items()
        if tuple(v.shape) != tuple(expected[k].shape)
    ]
    if wrong:
        raise ValueError(f'{len(wrong)} tensor(s) of the wrong shape (wrong '
                         f'config?): {wrong}')
