"""The spatial-transformer crop of DICOD (Guo et al., NeurIPS 2021,
arXiv 2106.05209, Sec. 3.2, Eqs. 8-9).

A box ``(x1, y1, x2, y2)`` in pixel coordinates of a ``W x H`` image (pixel
``i`` covers ``[i, i + 1)``) is cropped with the affine matrix

    A = [[(x2 - x1) / W, 0, -1 + (x1 + x2) / W],
         [0, (y2 - y1) / H, -1 + (y1 + y2) / H]]

through ``affine_grid`` and bilinear ``grid_sample`` with
``align_corners=False``. Output pixel ``j`` of an ``s``-wide crop samples
``x1 + (j + 0.5) (x2 - x1) / s``: the bin centres of RoIAlign with
``aligned=True`` and one sample per bin. Unlike RoIAlign, the crop is
differentiable with respect to the box, which is what lets the localisation
loss reach the detector's box predictions.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def box_affine_matrices(boxes: Tensor, height: int, width: int) -> Tensor:
    """The affine matrices that crop ``boxes`` out of an image (Eq. 8).

    Args:
        boxes: ``[K, 4]`` boxes ``(x1, y1, x2, y2)`` in pixels.
        height: Image height ``H`` in pixels.
        width: Image width ``W`` in pixels.

    Returns:
        ``[K, 2, 3]`` matrices for :func:`torch.nn.functional.affine_grid`.
    """
    x1, y1, x2, y2 = boxes.unbind(dim=1)
    zeros = torch.zeros_like(x1)
    row_x = torch.stack([(x2 - x1) / width, zeros, (x1 + x2) / width - 1], 1)
    row_y = torch.stack([zeros, (y2 - y1) / height, (y1 + y2) / height - 1],
                        1)
    return torch.stack([row_x, row_y], dim=1)


def crop_boxes(images: Tensor, rois: Tensor, size: int) -> Tensor:
    """Crop and resize boxes with a spatial transformer.

    The aspect ratio is not kept: every box becomes ``size x size``. Points
    outside the image read zeros. Each image is sampled once for all of its
    boxes, so memory grows with the crops, not with ``K`` copies of the
    image.

    Args:
        images: ``[B, C, H, W]`` images (or feature maps).
        rois: ``[K, 5]`` boxes as mmdet's ``bbox2roi`` gives them: batch
            index, then ``x1, y1, x2, y2`` in pixels of ``images``.
        size: Output side ``s`` in pixels.

    Returns:
        ``[K, C, s, s]`` crops, in the order of ``rois``; differentiable with
        respect to ``images`` and to the box coordinates.
    """
    if rois.dim() != 2 or rois.size(1) != 5:
        raise ValueError(f'rois: expected [K, 5] (batch index, x1, y1, x2, '
                         f'y2), got {tuple(rois.shape)}')
    if size < 1:
        raise ValueError(f'size: expected >= 1, got {size}')
    num_images, channels, height, width = images.shape
    if rois.size(0) == 0:  # zeros, still attached to both inputs' graphs
        return (images.new_zeros(0, channels, size, size) +
                images.sum() * 0 + rois.sum() * 0)
    batch_index = rois[:, 0].long()
    if int(batch_index.min()) < 0 or int(batch_index.max()) >= num_images:
        raise ValueError(f'rois[:, 0]: batch indices must lie in [0, '
                         f'{num_images - 1}] for {num_images} images')
    grids = F.affine_grid(
        box_affine_matrices(rois[:, 1:].to(images.dtype), height, width),
        [rois.size(0), channels, size, size], align_corners=False)
    batch_index = rois[:, 0].long()
    pieces = []
    order = []
    for image_index in batch_index.unique(sorted=True).tolist():
        rows = torch.nonzero(batch_index == image_index).squeeze(1)
        # The image's crops stacked vertically: one grid_sample call.
        grid = grids[rows].reshape(1, rows.numel() * size, size, 2)
        sampled = F.grid_sample(
            images[image_index:image_index + 1], grid, mode='bilinear',
            padding_mode='zeros', align_corners=False)
        pieces.append(
            sampled.reshape(channels, rows.numel(), size,
                            size).transpose(0, 1))
        order.append(rows)
    stacked = torch.cat(pieces)
    order = torch.cat(order)
    return stacked[torch.argsort(order)]
