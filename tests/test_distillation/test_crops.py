"""crop_boxes: DICOD's spatial-transformer crop against mmcv's RoIAlign."""
import pytest
import torch
from mmcv.ops import roi_align

from mmext.distillation import crop_boxes


def _rois_inside(num: int, height: int, width: int,
                 generator: torch.Generator) -> torch.Tensor:
    """Random rois at least half a pixel inside a ``height x width``
    image."""
    x = torch.rand(num, 2, generator=generator) * (width - 1) + 0.5
    y = torch.rand(num, 2, generator=generator) * (height - 1) + 0.5
    x1, x2 = x.min(1).values, x.max(1).values + 0.5
    y1, y2 = y.min(1).values, y.max(1).values + 0.5
    boxes = torch.stack([x1, y1, x2.clamp(max=width - 0.5),
                         y2.clamp(max=height - 0.5)], 1)
    batch = torch.randint(0, 2, (num, 1), generator=generator).float()
    return torch.cat([batch, boxes], 1)


@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-10),
                                       (torch.float32, 1e-5)])
def test_crop_equals_aligned_roi_align(dtype, tol):
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 40, 56, generator=generator, dtype=dtype)
    rois = _rois_inside(12, 40, 56, generator).to(dtype)
    ours = crop_boxes(images, rois, 7)
    reference = roi_align(images, rois, (7, 7), spatial_scale=1.0,
                          sampling_ratio=1, pool_mode='avg', aligned=True)
    assert ours.shape == (12, 3, 7, 7)
    assert torch.allclose(ours, reference, atol=tol, rtol=0)


def test_crop_is_differentiable_in_the_boxes():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 32, 32, generator=generator)
    rois = _rois_inside(5, 32, 32, generator).requires_grad_(True)
    crop_boxes(images, rois, 8).square().sum().backward()
    assert rois.grad[:, 0].abs().sum() == 0  # the batch index
    assert (rois.grad[:, 1:].abs().sum(1) > 0).all()


def test_crop_keeps_roi_order_across_images():
    images = torch.stack([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)])
    rois = torch.tensor([[1, 0., 0., 8., 8.], [0, 0., 0., 8., 8.],
                         [1, 2., 2., 6., 6.]])
    crops = crop_boxes(images, rois, 4)
    assert crops[0].min() == 1 and crops[1].max() == 0 and \
        crops[2].min() == 1


def test_crop_rejects_bad_rois():
    with pytest.raises(ValueError, match=r'rois: expected \[K, 5\]'):
        crop_boxes(torch.zeros(1, 3, 8, 8), torch.zeros(2, 4), 4)
    with pytest.raises(ValueError, match=r'rois\[:, 0\]'):
        crop_boxes(torch.zeros(1, 3, 8, 8), torch.tensor([[1, 0, 0, 4.,
                                                           4.]]), 4)
