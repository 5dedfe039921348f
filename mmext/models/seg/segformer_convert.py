"""Map SegFormer / MiT state dicts of NVlabs and mmseg 1.x to mmext's layout.

mmext layout (prefix ``backbone.`` in a segmentor):
``stages.{i}.patch_embed.{proj,norm}``,
``stages.{i}.blocks.{j}.{norm1,norm2}``,
``stages.{i}.blocks.{j}.attn.{q,kv,proj,sr,norm}``,
``stages.{i}.blocks.{j}.ffn.{fc1,dwconv,fc2}``, ``stages.{i}.norm``; the
decode head (prefix ``decode_head.``) has ``level_projs.{i}`` (1x1 convs,
level i = stage i), ``fuse_conv``, ``fuse_norm`` and ``conv_seg``.

Sources:

* ``official``: NVlabs/SegFormer (``patch_embed{s}``, ``block{s}.{j}``,
  ``norm{s}``, ``mlp.dwconv.dwconv``; head ``linear_c{s}.proj``,
  ``linear_fuse.{conv,bn}``, ``linear_pred``). ImageNet files also hold a
  classifier ``head.*``, which is dropped.
* ``mmseg``: mmseg 1.x ``MixVisionTransformer`` (``layers.{i}.{0,1,2}``,
  fused ``attn.attn.in_proj_*``, FFN as 1x1 convs). Its ``SegformerHead``
  is a different function (norm and activation after each level
  projection), so only the backbone converts; its ``decode_head.*`` and
  ``auxiliary_head.*`` keys are dropped and reported.

Every key must be understood: unknown keys raise a ``KeyError`` that lists
them.
"""
import re
from typing import Callable, Dict, List, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]
SOURCES = ('official', 'mmseg')


class ConversionResult(dict):
    """The converted state dict, with ``dropped`` keys listed (and why)."""

    def __init__(self, state: StateDict, dropped: List[str]) -> None:
        super().__init__(state)
        self.dropped = dropped


def _as_linear(weight: torch.Tensor) -> torch.Tensor:
    """(out, in, 1, 1) 1x1-conv weight -> (out, in) linear weight."""
    return weight.flatten(1) if weight.ndim == 4 else weight


def _as_conv1x1(weight: torch.Tensor) -> torch.Tensor:
    """(out, in) linear weight -> (out, in, 1, 1) 1x1-conv weight."""
    return weight[:, :, None, None] if weight.ndim == 2 else weight


_OFFICIAL_BACKBONE: List[Tuple[str, Callable]] = [
    (r'patch_embed(\d)\.(proj|norm)\.(\w+)',
     lambda m: f'stages.{int(m[1]) - 1}.patch_embed.{m[2]}.{m[3]}'),
    (r'block(\d)\.(\d+)\.(norm1|norm2|attn\.q|attn\.kv|attn\.proj|attn\.sr'
     r'|attn\.norm)\.(\w+)',
     lambda m: f'stages.{int(m[1]) - 1}.blocks.{m[2]}.{m[3]}.{m[4]}'),
    (r'block(\d)\.(\d+)\.mlp\.(fc1|fc2)\.(\w+)',
     lambda m: f'stages.{int(m[1]) - 1}.blocks.{m[2]}.ffn.{m[3]}.{m[4]}'),
    (r'block(\d)\.(\d+)\.mlp\.dwconv\.dwconv\.(\w+)',
     lambda m: f'stages.{int(m[1]) - 1}.blocks.{m[2]}.ffn.dwconv.{m[3]}'),
    (r'norm(\d)\.(\w+)', lambda m: f'stages.{int(m[1]) - 1}.norm.{m[2]}'),
]

_OFFICIAL_HEAD: List[Tuple[str, Callable]] = [
    (r'linear_c(\d)\.proj\.(\w+)',
     lambda m: f'level_projs.{int(m[1]) - 1}.{m[2]}'),
    (r'linear_fuse\.conv\.(\w+)', lambda m: f'fuse_conv.{m[1]}'),
    (r'linear_fuse\.bn\.(\w+)', lambda m: f'fuse_norm.{m[1]}'),
    (r'linear_pred\.(\w+)', lambda m: f'conv_seg.{m[1]}'),
]

_MMSEG_BACKBONE: List[Tuple[str, Callable]] = [
    (r'layers\.(\d)\.0\.(projection|norm)\.(\w+)',
     lambda m: f'stages.{m[1]}.patch_embed.'
     f'{"proj" if m[2] == "projection" else "norm"}.{m[3]}'),
    (r'layers\.(\d)\.1\.(\d+)\.(norm1|norm2|attn\.sr|attn\.norm)\.(\w+)',
     lambda m: f'stages.{m[1]}.blocks.{m[2]}.{m[3]}.{m[4]}'),
    (r'layers\.(\d)\.1\.(\d+)\.attn\.attn\.out_proj\.(\w+)',
     lambda m: f'stages.{m[1]}.blocks.{m[2]}.attn.proj.{m[3]}'),
    (r'layers\.(\d)\.1\.(\d+)\.attn\.attn\.in_proj_(weight|bias)',
     lambda m: f'stages.{m[1]}.blocks.{m[2]}.attn.in_proj.{m[3]}'),
    (r'layers\.(\d)\.1\.(\d+)\.ffn\.layers\.(0|1|4)\.(\w+)',
     lambda m: f'stages.{m[1]}.blocks.{m[2]}.ffn.'
     f'{ {"0": "fc1", "1": "dwconv", "4": "fc2"}[m[3]] }.{m[4]}'),
    (r'layers\.(\d)\.2\.(\w+)', lambda m: f'stages.{m[1]}.norm.{m[2]}'),
]


def _rename(key: str, rules: List[Tuple[str, Callable]]) -> Optional[str]:
    for pattern, target in rules:
        match = re.fullmatch(pattern, key)
        if match:
            return target(match)
    return None


def _convert_part(state: StateDict, rules: List[Tuple[str, Callable]],
                  unknown: List[str], prefix: str) -> StateDict:
    """Rename ``state`` by ``rules``; unmatched keys go to ``unknown``."""
    out: StateDict = {}
    for key, value in state.items():
        new_key = _rename(key, rules)
        if new_key is None:
            unknown.append(prefix + key)
            continue
        if new_key.endswith('.in_proj.weight') or new_key.endswith(
                '.in_proj.bias'):
            # nn.MultiheadAttention stacks [q; k; v]; mmext keeps q apart
            # from the fused [k; v] projection (same row order).
            base, kind = new_key.rsplit('.in_proj.', 1)
            dim = value.shape[0] // 3
            out[f'{base}.q.{kind}'] = value[:dim]
            out[f'{base}.kv.{kind}'] = value[dim:]
            continue
        if re.search(r'\.ffn\.fc[12]\.weight$', new_key):
            value = _as_linear(value)
        elif new_key.startswith('level_projs.') and new_key.endswith(
                '.weight'):
            value = _as_conv1x1(value)
        out[new_key] = value
    return out


def unwrap_state_dict(checkpoint: dict) -> StateDict:
    """The state dict of a checkpoint file (``state_dict``/``model`` key or
    the bare dict)."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def convert_segformer(state: StateDict, src: str) -> ConversionResult:
    """Convert a SegFormer / MiT state dict to mmext's layout.

    A whole segmentor (keys under ``backbone.``) converts to a whole
    segmentor; a bare backbone to a bare backbone.

    Args:
        state (dict[str, Tensor]): Source state dict.
        src (str): ``'official'`` (NVlabs) or ``'mmseg'`` (mmseg 1.x).

    Returns:
        ConversionResult: The converted dict; ``.dropped`` lists the source
        keys intentionally left out (ImageNet classifier, mmseg heads).

    Raises:
        ValueError: ``src`` is not a known source.
        KeyError: Keys the converter does not understand (all listed).
    """
    if src not in SOURCES:
        raise ValueError(f'src: unknown source {src!r}; choose one of '
                         f'{list(SOURCES)}')
    backbone_rules = _OFFICIAL_BACKBONE if src == 'official' else \
        _MMSEG_BACKBONE
    segmentor = any(k.startswith('backbone.') for k in state)
    unknown: List[str] = []
    dropped: List[str] = []
    parts: Dict[str, StateDict] = {'backbone.': {}, 'decode_head.': {}}
    for key, value in state.items():
        if segmentor:
            prefix = next((p for p in ('backbone.', 'decode_head.',
                                       'auxiliary_head.')
                           if key.startswith(p)), None)
            if prefix is None:
                unknown.append(key)
                continue
            if prefix != 'backbone.' and src == 'mmseg':
                dropped.append(key)
                continue
            parts[prefix][key[len(prefix):]] = value
        elif src == 'official' and key.startswith('head.'):
            dropped.append(key)  # the ImageNet classifier
        else:
            parts['backbone.'][key] = value
    out: StateDict = {}
    for prefix, part in parts.items():
        rules = backbone_rules if prefix == 'backbone.' else _OFFICIAL_HEAD
        converted = _convert_part(part, rules, unknown,
                                  prefix if segmentor else '')
        out.update({(prefix if segmentor else '') + k: v
                    for k, v in converted.items()})
    if unknown:
        raise KeyError(
            f'{len(unknown)} key(s) not understood as a {src} SegFormer '
            f'checkpoint (is --src right?): {sorted(unknown)}')
    return ConversionResult(out, dropped)
