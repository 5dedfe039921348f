"""Map checkpoints of the released CVP-MVSNet code (public repository
JiayuYANG/CVP-MVSNet, ``models/net.py``) to :class:`mmext.CVPMVSNet`.

Released layout (a ``network`` module; checkpoints are
``{'epoch', 'model': state_dict, 'optimizer'}``):

* ``featurePyramid.conv0{aa,ba,bb,bc,bd,be,bf,bg,bh}.0.{weight,bias}``: the
  nine 2-D convolutions (each in a ``Sequential`` with its LeakyReLU);
* ``cost_reg_refine.{conv0,conv0a,conv1,conv2,conv2a,conv3,conv4,conv4a}``
  ``.{conv.weight,bn.*}``: the 3-D conv-BN-ReLU blocks;
* ``cost_reg_refine.conv{5,6}.0.weight`` (transposed convolutions) and
  ``.1.*`` (their BatchNorm);
* ``cost_reg_refine.prob0.{weight,bias}``: the logits convolution.

mmext layout (prefix ``core.``): ``feature_pyramid.convs.{0..8}``,
``cost_regularization.{enc0.{0,1},enc1.{0,1,2},enc2.{0,1,2}}.{conv,bn}``,
``cost_regularization.{dec1,dec0}.{deconv,bn}``,
``cost_regularization.logits``. Converted weights reproduce the released
outputs with ``reference_quirks=True``.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional

from torch import Tensor

__all__ = ['REFERENCE_SOURCE', 'reference_key_to_mmext', 'unwrap_checkpoint',
           'convert_reference_state_dict']

REFERENCE_SOURCE = 'JiayuYANG/CVP-MVSNet'

_PYRAMID = ('aa', 'ba', 'bb', 'bc', 'bd', 'be', 'bf', 'bg', 'bh')
_BLOCKS = {
    'conv0': 'enc0.0', 'conv0a': 'enc0.1', 'conv1': 'enc1.0',
    'conv2': 'enc1.1', 'conv2a': 'enc1.2', 'conv3': 'enc2.0',
    'conv4': 'enc2.1', 'conv4a': 'enc2.2'
}
_DECONVS = {'conv5': 'dec1', 'conv6': 'dec0'}
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'

_RULES = [
    (re.compile(r'featurePyramid\.conv0(\w\w)\.0\.(weight|bias)'),
     lambda m: f'feature_pyramid.convs.{_PYRAMID.index(m[1])}.{m[2]}'
     if m[1] in _PYRAMID else None),
    (re.compile(r'cost_reg_refine\.(conv\w+)\.conv\.weight'),
     lambda m: f'cost_regularization.{_BLOCKS[m[1]]}.conv.weight'
     if m[1] in _BLOCKS else None),
    (re.compile(r'cost_reg_refine\.(conv\w+)\.bn\.' + _BN),
     lambda m: f'cost_regularization.{_BLOCKS[m[1]]}.bn.{m[2]}'
     if m[1] in _BLOCKS else None),
    (re.compile(r'cost_reg_refine\.(conv[56])\.0\.weight'),
     lambda m: f'cost_regularization.{_DECONVS[m[1]]}.deconv.weight'),
    (re.compile(r'cost_reg_refine\.(conv[56])\.1\.' + _BN),
     lambda m: f'cost_regularization.{_DECONVS[m[1]]}.bn.{m[2]}'),
    (re.compile(r'cost_reg_refine\.prob0\.(weight|bias)'),
     lambda m: f'cost_regularization.logits.{m[1]}'),
]


def reference_key_to_mmext(key: str, prefix: str = 'core.') -> Optional[str]:
    """The mmext name of a released key (``module.`` stripped), or None."""
    if key.startswith('module.'):
        key = key[len('module.'):]
    for pattern, target in _RULES:
        match = pattern.fullmatch(key)
        if match:
            name = target(match)
            return None if name is None else prefix + name
    return None


def unwrap_checkpoint(checkpoint: Mapping) -> Dict[str, Tensor]:
    """The state dict of a released checkpoint (its ``'model'`` entry, or
    ``'state_dict'``), or the checkpoint itself when it is a bare state
    dict."""
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    return dict(checkpoint)


def _template() -> Dict[str, Tensor]:
    """Keys and shapes of :class:`mmext.CVPMVSNet` (independent of its
    config: no parameter depends on the number of levels or planes)."""
    from .cvp_mvsnet import CVPMVSNetCore
    return {'core.' + k: v for k, v in CVPMVSNetCore().state_dict().items()}


def convert_reference_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released CVP-MVSNet state dict to :class:`mmext.CVPMVSNet`'s.

    Args:
        state_dict (Mapping[str, Tensor]): The released ``network``'s state
            dict (a ``module.`` prefix of ``DataParallel`` is stripped).

    Returns:
        OrderedDict[str, Tensor]: Loads into ``CVPMVSNet`` with
        ``strict=True``, in the model's key order.

    Raises:
        KeyError: Keys that are not the released layout, model keys the
            input does not fill, or tensors of the wrong shape; each
            problem lists all its keys.
    """
    template = _template()
    converted: Dict[str, Tensor] = {}
    unknown: List[str] = []
    duplicate: List[str] = []
    for key, value in state_dict.items():
        name = reference_key_to_mmext(key)
        if name is None or name not in template:
            unknown.append(key)
        elif name in converted:
            duplicate.append(key)
        else:
            converted[name] = value
    problems = []
    if unknown:
        problems.append(f'{len(unknown)} key(s) are not CVP-MVSNet '
                        f'({REFERENCE_SOURCE}) weights: {sorted(unknown)}')
    if duplicate:
        problems.append(f'{len(duplicate)} key(s) appear twice (with and '
                        f'without module.): {sorted(duplicate)}')
    missing = [k for k in template if k not in converted]
    if missing:
        problems.append(f'{len(missing)} mmext key(s) have no source '
                        f'weight: {missing}')
    wrong = [
        f'{k}: {list(v.shape)} (expected {list(template[k].shape)})'
        for k, v in converted.items()
        if tuple(v.shape) != tuple(template[k].shape)
    ]
    if wrong:
        problems.append(f'{len(wrong)} tensor(s) have the wrong shape: '
                        f'{wrong}')
    if problems:
        raise KeyError('; '.join(problems))
    return OrderedDict((k, converted[k]) for k in template)
