"""A real stereo pair through the DTU reader and a weight-free plane sweep.

The "motorcycle" scene of the Middlebury 2014 stereo data set (Scharstein
et al., "High-Resolution Stereo Datasets with Subpixel-Accurate Ground
Truth", GCPR 2014) ships with scikit-image (``skimage.data.
stereo_motorcycle``, no download): a rectified pair at a quarter of the
original resolution with the ground-truth disparity of the left view and
the calibration in the function's docstring.

The pair is written as a two-view scan in the DTU training layout with
mmext's own writers (left camera = world frame, right camera one baseline
along +x; depth ``Z = baseline * f / (disparity + doffs)``), read back with
``mmext.DTUMVSDataset``, and swept with mmext's homography warp and variance
cost over raw RGB with no learned weights: a 5x5 box filter of the cost and
the winner-take-all plane (and the soft-argmin) must recover the depth far
better than the best constant depth. The same sweep with the two cameras'
extrinsics swapped (the baseline pointing the wrong way) must not.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skimage_data

from mmext.datasets import DTUMVSDataset
from mmext.datasets.dtu_io import (DTULayout, MVSCamera, write_cam_txt,
                                   write_pair_txt, write_pfm, write_scan_list)
from mmext.models.mvs.cost_volume import variance_volume
from mmext.models.mvs.depth_regression import soft_argmin
from mmext.models.mvs.geometry import warp_volume
from mmext.models.mvs.hypotheses import uniform_hypotheses

# Calibration of the images skimage ships, from the docstring of
# skimage.data.stereo_motorcycle (pixels of the 500x741 images; mm).
FOCAL = 994.978
CX_LEFT = 311.193
CY = 254.877
DOFFS = 31.086  # principal point x of the right camera minus the left's
BASELINE = 193.001

SCALE = 4  # further downsampling, integer so INTER_AREA is a block mean
SIZE = (120, 184)  # (H, W) after the crop: multiples of 8
SCAN = 'scan1'
LIGHT = 3
DEPTH_MIN = 1900.0  # mm; the ground truth spans about 2100 .. 5000
DEPTH_INTERVAL = 12.5  # depth_max = 1900 + 256 * 12.5 = 5100
NUM_PLANES = 128
BOX = 5  # cost aggregation window (a mean, not a learned weight)
TEMPERATURE = 1e-4  # softmax(-cost / T) for the soft-argmin


def scaled_intrinsic(cx: float) -> np.ndarray:
    """``K`` after ``cv2.INTER_AREA`` by ``SCALE`` (pixel centres at
    integers: ``c' = (c + 0.5) / s - 0.5``)."""
    focal = FOCAL / SCALE
    cx, cy = ((c + 0.5) / SCALE - 0.5 for c in (cx, CY))
    return np.array([
        [focal, 0.0, cx],
        [0.0, focal, cy],
        [0.0, 0.0, 1.0],
    ])


def block_mean(array: np.ndarray) -> np.ndarray:
    """Mean of each ``SCALE x SCALE`` block (``[H, W]`` -> ``[H/s, W/s]``)."""
    height, width = array.shape[0] // SCALE, array.shape[1] // SCALE
    blocks = array[:height * SCALE, :width * SCALE].reshape(
        height, SCALE, width, SCALE)
    return blocks.mean(axis=(1, 3))


def downsample_image(image: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, 3]`` -> ``[H/s, W/s, 3]`` (``cv2.INTER_AREA``)."""
    height, width = image.shape[0] // SCALE, image.shape[1] // SCALE
    image = np.ascontiguousarray(image[:height * SCALE, :width * SCALE])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope='module')
def motorcycle(tmp_path_factory):
    """The pair written as a DTU root; returns ``(root, info)``."""
    left, right, disparity = skimage_data.stereo_motorcycle()
    valid = np.isfinite(disparity)  # the invalid pixels are inf
    depth = np.where(
        valid, BASELINE * FOCAL / (np.where(valid, disparity, 0) + DOFFS), 0.0)
    # Low-resolution ground truth: the mean depth of a block, where the
    # whole block has one (0 elsewhere).
    valid_low = block_mean(valid.astype(np.float64)) == 1.0
    depth_low = np.where(valid_low, block_mean(depth), 0.0)
    disparity_low = np.where(valid_low,
                             block_mean(np.where(valid, disparity, 0.0)), 0.0)
    height, width = SIZE
    images = [downsample_image(x)[:height, :width] for x in (left, right)]
    depth_low = depth_low[:height, :width].astype(np.float32)
    # Seen by the right camera: not in the left strip that leaves its view.
    columns = np.arange(width)[None, :]
    visible = (columns - disparity_low[:height, :width] / SCALE) >= 0

    extrinsic_right = np.eye(4)
    extrinsic_right[0, 3] = -BASELINE  # right camera centre at x = +baseline
    cameras = [
        MVSCamera(np.eye(4), scaled_intrinsic(CX_LEFT), DEPTH_MIN,
                  DEPTH_INTERVAL),
        MVSCamera(extrinsic_right, scaled_intrinsic(CX_LEFT + DOFFS),
                  DEPTH_MIN, DEPTH_INTERVAL)
    ]
    root = str(tmp_path_factory.mktemp('middlebury_dtu'))
    layout = DTULayout(root)
    write_scan_list(layout.scan_list('train'), [SCAN])
    write_pair_txt(layout.pair_file(), {0: [(1, 1.0)], 1: [(0, 1.0)]})
    for view, (camera, image) in enumerate(zip(cameras, images)):
        write_cam_txt(layout.cam_file(view), camera)
        path = layout.train_image(SCAN, view, LIGHT)
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(image).save(path)
    write_pfm(layout.depth_file(SCAN, 0), depth_low)
    return root, dict(cameras=cameras,
                      images=images,
                      depth=depth_low,
                      mask=(depth_low > 0) & visible)


def read_sample(root: str) -> dict:
    dataset = DTUMVSDataset(root,
                            split='train',
                            nsrc=1,
                            num_levels=1,
                            lights=(LIGHT, ),
                            max_views=1)
    assert len(dataset) == 1
    return dataset[0]


def plane_sweep(item: dict, swap_cameras: bool = False):
    """Winner-take-all and soft-argmin depth ``[H, W]`` of the reference
    view."""
    imgs = item['imgs'][None]  # [1, 2, 3, H, W]
    intrinsics = item['intrinsics'][None]
    extrinsics = item['extrinsics'][None]
    if swap_cameras:
        extrinsics = extrinsics.flip(1)
    hypotheses = uniform_hypotheses(torch.tensor([item['depth_min']]),
                                    torch.tensor([item['depth_max']]),
                                    NUM_PLANES)
    warped = warp_volume(imgs[:, 1], intrinsics[:, 0], extrinsics[:, 0],
                         intrinsics[:, 1], extrinsics[:, 1], hypotheses)
    cost = variance_volume(imgs[:, 0], [warped]).mean(1)  # [1, D, H, W]
    cost = F.avg_pool2d(cost,
                        BOX,
                        stride=1,
                        padding=BOX // 2,
                        count_include_pad=False)
    wta = hypotheses[0][cost.argmin(1)][0]
    soft = soft_argmin(torch.softmax(-cost / TEMPERATURE, 1), hypotheses)[0]
    return wta.numpy(), soft.numpy()


def median_relative_error(depth: np.ndarray, gt: np.ndarray,
                          mask: np.ndarray) -> float:
    return float(np.median(np.abs(depth[mask] - gt[mask]) / gt[mask]))


def test_motorcycle_round_trips_through_the_dtu_reader(motorcycle):
    root, info = motorcycle
    item = read_sample(root)
    height, width = SIZE
    assert item['imgs'].shape == (2, 3, height, width)
    for view in range(2):
        np.testing.assert_array_equal(
            item['imgs'][view].permute(1, 2, 0).numpy(),
            info['images'][view].astype(np.float32) / 255)
        np.testing.assert_allclose(item['intrinsics'][view].numpy(),
                                   info['cameras'][view].intrinsic,
                                   rtol=1e-6)
        np.testing.assert_allclose(item['extrinsics'][view].numpy(),
                                   info['cameras'][view].extrinsic,
                                   rtol=1e-6)
    np.testing.assert_array_equal(item['depths'][0].numpy(), info['depth'])
    assert item['meta']['src_views'] == [1]
    gt = info['depth'][info['depth'] > 0]
    assert gt.size > 0.6 * height * width
    assert item['depth_min'] == DEPTH_MIN
    assert item['depth_min'] < gt.min() and gt.max() <= item['depth_max']


def test_plane_sweep_over_raw_pixels_recovers_the_depth(motorcycle):
    root, info = motorcycle
    gt, mask = info['depth'], info['mask']
    assert mask.mean() > 0.6
    wta, soft = plane_sweep(read_sample(root))
    constant = np.full_like(gt, np.median(gt[mask]))
    errors = dict(winner_take_all=median_relative_error(wta, gt, mask),
                  soft_argmin=median_relative_error(soft, gt, mask),
                  constant=median_relative_error(constant, gt, mask))
    print('median relative depth error:',
          ', '.join(f'{k} {v:.4f}' for k, v in errors.items()))
    # Measured: winner-take-all 0.0125, soft-argmin 0.018, constant 0.185.
    assert errors['constant'] > 0.1  # the scene is far from flat
    assert errors['winner_take_all'] < min(0.03, errors['constant'] / 3)
    assert errors['soft_argmin'] < min(0.04, errors['constant'] / 3)


def test_swapped_cameras_sweep_worse_than_a_constant(motorcycle):
    """The check above has the power to catch a wrong warp: with the
    extrinsics swapped (the baseline's sign flipped) the sweep is worse
    than a constant depth."""
    root, info = motorcycle
    gt, mask = info['depth'], info['mask']
    wta, soft = plane_sweep(read_sample(root), swap_cameras=True)
    constant = median_relative_error(np.full_like(gt, np.median(gt[mask])), gt,
                                     mask)
    # Measured: winner-take-all 0.333, soft-argmin 0.308.
    assert median_relative_error(wta, gt, mask) > constant
    assert median_relative_error(soft, gt, mask) > constant
