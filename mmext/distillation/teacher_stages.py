"""Intermediate features of a ResNet teacher, for KD_loc (DICOD, Guo et
al., NeurIPS 2021, arXiv 2106.05209, Sec. 3.2: the stem output is the
paper's "layer 0")."""
from typing import List, Sequence

from torch import Tensor, nn


def _stem(backbone: nn.Module, images: Tensor) -> Tensor:
    """The stem and max-pool of mmpretrain's, mmdet's or torchvision's
    ResNet."""
    if getattr(backbone, 'deep_stem', False):
        x = backbone.stem(images)
    else:
        norm = getattr(backbone, 'norm1', None) or getattr(backbone, 'bn1')
        x = backbone.relu(norm(backbone.conv1(images)))
    return backbone.maxpool(x)


def _stage_modules(backbone: nn.Module) -> List[nn.Module]:
    """The residual stages in order (``res_layers`` names or
    ``layer1..layer4``)."""
    names = getattr(backbone, 'res_layers', None)
    if names is None:
        names = [f'layer{i}' for i in range(1, 5) if hasattr(
            backbone, f'layer{i}')]
    return [getattr(backbone, name) for name in names]


def is_resnet_like(backbone: nn.Module) -> bool:
    """Whether :func:`resnet_stage_outputs` can walk ``backbone``."""
    has_stem = hasattr(backbone, 'maxpool') and (
        getattr(backbone, 'deep_stem', False) or hasattr(backbone, 'conv1'))
    return has_stem and len(_stage_modules(backbone)) > 0


def resnet_stage_outputs(backbone: nn.Module, images: Tensor,
                         stages: Sequence[int]) -> List[Tensor]:
    """Run a ResNet up to the deepest requested stage.

    Args:
        backbone: A ResNet of mmpretrain, mmdet or torchvision.
        images: ``[N, 3, H, W]`` normalised images.
        stages: Stage indices: 0 the stem (after max-pooling), ``i`` the
            ``i``-th residual stage.

    Returns:
        The feature map of each requested stage, in the order asked.
    """
    modules = _stage_modules(backbone)
    deepest = max(stages)
    if min(stages) < 0 or deepest > len(modules):
        raise ValueError(f'kd_loc.layers: teacher stages must lie in '
                         f'[0, {len(modules)}], got {list(stages)}')
    outputs = [_stem(backbone, images)]
    for module in modules[:deepest]:
        outputs.append(module(outputs[-1]))
    return [outputs[stage] for stage in stages]
