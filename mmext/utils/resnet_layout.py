"""The layout of a ResNet backbone of mmpretrain, mmdet or torchvision: its
stem (with the max-pool) and its residual stages, read without copying a
module."""
from typing import List, Tuple

from torch import nn

__all__ = ['is_resnet_like', 'resnet_stem', 'resnet_stages']


def resnet_stem(backbone: nn.Module) -> nn.Sequential:
    """The stem and max-pool as one module sharing the backbone's layers.

    Args:
        backbone: A ResNet of mmpretrain or mmdet (``conv1``/``norm1`` or a
            ``deep_stem``) or of torchvision (``conv1``/``bn1``).

    Returns:
        ``nn.Sequential`` mapping normalised images ``[N, 3, H, W]`` to the
        first stage's input ``[N, C, H / 4, W / 4]``.
    """
    if getattr(backbone, 'deep_stem', False):
        return nn.Sequential(backbone.stem, backbone.maxpool)
    norm = getattr(backbone, 'norm1', None) or getattr(backbone, 'bn1')
    return nn.Sequential(backbone.conv1, norm, backbone.relu,
                         backbone.maxpool)


def resnet_stages(backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The residual stages in order, with their attribute names
    (``res_layers`` of mmpretrain and mmdet, else ``layer1..layer4``)."""
    names = getattr(backbone, 'res_layers', None)
    if names is None:
        names = [f'layer{i}' for i in range(1, 5) if hasattr(
            backbone, f'layer{i}')]
    return [(name, getattr(backbone, name)) for name in names]


def is_resnet_like(backbone: nn.Module) -> bool:
    """Whether :func:`resnet_stem` and :func:`resnet_stages` can walk
    ``backbone``."""
    has_stem = hasattr(backbone, 'maxpool') and (
        getattr(backbone, 'deep_stem', False) or hasattr(backbone, 'conv1'))
    return has_stem and len(resnet_stages(backbone)) > 0
