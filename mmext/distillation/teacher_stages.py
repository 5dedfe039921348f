"""Intermediate features of a ResNet teacher, for KD_loc (DICOD, Guo et
al., NeurIPS 2021, arXiv 2106.05209, Sec. 3.2: the stem output is the
paper's "layer 0")."""
from typing import List, Sequence

from torch import Tensor, nn

from mmext.utils.resnet_layout import (is_resnet_like, resnet_stages,
                                      resnet_stem)

__all__ = ['is_resnet_like', 'resnet_stage_outputs']


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
    modules = [module for _, module in resnet_stages(backbone)]
    deepest = max(stages)
    if min(stages) < 0 or deepest > len(modules):
        raise ValueError(f'kd_loc.layers: teacher stages must lie in '
                         f'[0, {len(modules)}], got {list(stages)}')
    outputs = [resnet_stem(backbone)(images)]
    for module in modules[:deepest]:
        outputs.append(module(outputs[-1]))
    return [outputs[stage] for stage in stages]
