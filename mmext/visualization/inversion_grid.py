"""Image grids of inversion attacks: one row per image set (originals on
top, then the reconstructions of each method), one column per image. Used
by GradInversion (Yin et al., "See through Gradients", CVPR 2021, arXiv
2104.07586) and direct inversion (Dong et al., arXiv 2107.06304)."""
from typing import Optional, Sequence

import numpy as np
import torch

from mmext.utils.atomic import atomic_write


def rows_grid(rows: Sequence[torch.Tensor], gap: int = 2) -> np.ndarray:
    """One uint8 RGB picture of several image rows.

    Args:
        rows (Sequence[Tensor]): Each [N, 3, H, W] in [0, 1], RGB, all of
            the same shape.
        gap (int): White pixels between images.

    Returns:
        ndarray: [rows * (H + gap) - gap, N * (W + gap) - gap, 3] uint8.
    """
    shapes = {tuple(row.shape) for row in rows}
    if len(shapes) != 1:
        raise ValueError(f'rows_grid: every row must have the same shape, '
                         f'got {sorted(shapes)}')
    num, _, height, width = rows[0].shape
    canvas = torch.ones(3, len(rows) * (height + gap) - gap,
                        num * (width + gap) - gap)
    for r, row in enumerate(rows):
        for i, image in enumerate(row.detach().float().cpu().clamp(0, 1)):
            top, left = r * (height + gap), i * (width + gap)
            canvas[:, top:top + height, left:left + width] = image
    return (canvas.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def pair_grid(recovered: torch.Tensor,
              original: Optional[torch.Tensor] = None,
              gap: int = 2) -> np.ndarray:
    """:func:`rows_grid` of ``original`` (if given) above ``recovered``
    ([N, 3, H, W] in [0, 1], RGB)."""
    rows = [recovered] if original is None else [original, recovered]
    return rows_grid(rows, gap)


def save_rows_grid(path: str, rows: Sequence[torch.Tensor]) -> None:
    """Write :func:`rows_grid` as a PNG, atomically."""
    import mmcv
    picture = rows_grid(rows)[..., ::-1]  # RGB -> BGR
    atomic_write(path, lambda tmp: mmcv.imwrite(picture, tmp), suffix='.png')


def save_pair_grid(path: str,
                   recovered: torch.Tensor,
                   original: Optional[torch.Tensor] = None) -> None:
    """Write :func:`pair_grid` as a PNG, atomically."""
    save_rows_grid(path, [recovered] if original is None else
                   [original, recovered])
