"""Where split computing cuts a classifier: the shallow blocks from the
input to a named layer, whose output the device sends and an attacker
sees (Dong et al., "Deep Neural Networks are Surprisingly Reversible: A
Baseline for Zero-Shot Inversion", arXiv 2107.06304; "Privacy
Vulnerability of Split Computing to Data-Free Model Inversion Attacks",
BMVC 2022).

A ResNet is partitioned into the stem (convolution, norm, activation and
max-pool: one block of stride 4) and its residual blocks. A split is named
``'stem'``, a stage (``'layer1'`` .. ``'layer4'``: up to its last block)
or one residual block (``'layer2.0'``).
"""
from typing import List, Tuple

import torch
from torch import nn

from mmext.utils.resnet_layout import is_resnet_like, resnet_stages, \
    resnet_stem

__all__ = ['classifier_blocks', 'split_names', 'blocks_until',
           'split_forward']


def _backbone(model: nn.Module) -> nn.Module:
    """``model.backbone`` for a classifier with one, else ``model`` (a
    torchvision ResNet)."""
    return getattr(model, 'backbone', None) or model


def classifier_blocks(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The classifier's blocks in forward order, sharing its modules.

    Args:
        model: A classifier whose ``backbone`` (or itself) is a ResNet of
            mmpretrain, mmdet or torchvision.

    Returns:
        ``[('stem', stem), ('layer1.0', block), ...]``: running them in
        order gives the backbone's stage outputs.

    Raises:
        ValueError: The backbone is not a ResNet.
    """
    backbone = _backbone(model)
    if not is_resnet_like(backbone):
        raise ValueError(
            f'split: the backbone {type(backbone).__name__} is not a ResNet '
            'of mmpretrain, mmdet or torchvision; only those are '
            'partitioned into blocks')
    blocks: List[Tuple[str, nn.Module]] = [('stem', resnet_stem(backbone))]
    for stage_name, stage in resnet_stages(backbone):
        blocks += [(f'{stage_name}.{index}', block)
                   for index, block in enumerate(stage)]
    return blocks


def split_names(blocks: List[Tuple[str, nn.Module]]) -> List[str]:
    """Every valid split of ``blocks``: ``'stem'``, the stages and the
    single blocks, in forward order."""
    names: List[str] = []
    for name, _ in blocks:
        stage = name.split('.')[0]
        if stage not in names:
            names.append(stage)
        if name != stage:
            names.append(name)
    return names


def blocks_until(model: nn.Module,
                 split: str) -> List[Tuple[str, nn.Module]]:
    """The blocks from the input up to and including ``split``.

    Args:
        model: The classifier (see :func:`classifier_blocks`).
        split: ``'stem'``, a stage such as ``'layer2'`` (up to its last
            block) or a block such as ``'layer2.0'``.

    Returns:
        The blocks whose composition maps images to the split's output.

    Raises:
        ValueError: ``split`` is not a layer of the model; the message
            lists the valid names.
    """
    blocks = classifier_blocks(model)
    names = [name for name, _ in blocks]
    if split in names:
        return blocks[:names.index(split) + 1]
    last = [i for i, name in enumerate(names)
            if name.split('.')[0] == split]
    if not last:
        raise ValueError(
            f'split={split!r} is not a layer of '
            f'{type(_backbone(model)).__name__}; valid names: '
            f'{split_names(blocks)}')
    return blocks[:last[-1] + 1]


def split_forward(model: nn.Module, split: str,
                  images: torch.Tensor) -> torch.Tensor:
    """The features the device sends: ``images`` through the blocks up to
    ``split``.

    Args:
        model: The classifier.
        split: A valid split name (see :func:`blocks_until`).
        images: ``[N, 3, H, W]`` normalised as the model expects.

    Returns:
        ``[N, C, h, w]``, the split's output.
    """
    x = images
    for _, block in blocks_until(model, split):
        x = block(x)
    return x
