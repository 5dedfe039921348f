"""Image grids of a GradInversion run (Yin et al., "See through Gradients",
CVPR 2021, arXiv 2104.07586): originals on top, reconstructions below."""
from typing import Optional

import numpy as np
import torch

from mmext.utils.atomic import atomic_write


def pair_grid(recovered: torch.Tensor,
              original: Optional[torch.Tensor] = None,
              gap: int = 2) -> np.ndarray:
    """One uint8 RGB picture of a batch.

    Args:
        recovered (Tensor): [N, 3, H, W] in [0, 1], RGB.
        original (Tensor, optional): [N, 3, H, W], the row above.
        gap (int): White pixels between images.

    Returns:
        ndarray: [rows * (H + gap) - gap, N * (W + gap) - gap, 3] uint8.
    """
    rows = [recovered] if original is None else [original, recovered]
    num, _, height, width = recovered.shape
    canvas = torch.ones(3, len(rows) * (height + gap) - gap,
                        num * (width + gap) - gap)
    for r, row in enumerate(rows):
        for i, image in enumerate(row.detach().float().cpu().clamp(0, 1)):
            top, left = r * (height + gap), i * (width + gap)
            canvas[:, top:top + height, left:left + width] = image
    return (canvas.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def save_pair_grid(path: str,
                   recovered: torch.Tensor,
                   original: Optional[torch.Tensor] = None) -> None:
    """Write :func:`pair_grid` as a PNG, atomically."""
    import mmcv
    picture = pair_grid(recovered, original)[..., ::-1]  # RGB -> BGR
    atomic_write(path, lambda tmp: mmcv.imwrite(picture, tmp), suffix='.png')
