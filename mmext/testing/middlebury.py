"""The Middlebury "motorcycle" stereo pair as a two-view DTU scan, for
tests that need real images with ground-truth depth.

The "motorcycle" scene of the Middlebury 2014 stereo data set (Scharstein
et al., "High-Resolution Stereo Datasets with Subpixel-Accurate Ground
Truth", GCPR 2014) ships with scikit-image (``skimage.data.
stereo_motorcycle``, no download): a rectified pair at a quarter of the
original resolution with the ground-truth disparity of the left view and
the calibration in the function's docstring. :func:`write_motorcycle`
writes it in the DTU training layout with mmext's own writers (left camera
= world frame, right camera one baseline along +x; depth ``Z = baseline *
f / (disparity + doffs)``); :func:`plane_sweep` is the weight-free
baseline (mmext's homography warp and variance cost over raw RGB, a 5x5
box filter, winner-take-all and soft-argmin).
"""
import os
import os.path as osp

import cv2
import numpy as np
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
#: Other ``scale: (H, W)`` pairs :func:`write_motorcycle` takes.
SIZES = {4: SIZE, 8: (56, 88)}
SCAN = 'scan1'
LIGHT = 3
DEPTH_MIN = 1900.0  # mm; the ground truth spans about 2100 .. 5000
DEPTH_INTERVAL = 12.5  # depth_max = 1900 + 256 * 12.5 = 5100
NUM_PLANES = 128
BOX = 5  # cost aggregation window (a mean, not a learned weight)
TEMPERATURE = 1e-4  # softmax(-cost / T) for the soft-argmin


def scaled_intrinsic(cx: float, scale: int = SCALE) -> np.ndarray:
    """``K`` after ``cv2.INTER_AREA`` by ``scale`` (pixel centres at
    integers: ``c' = (c + 0.5) / s - 0.5``)."""
    focal = FOCAL / scale
    cx, cy = ((c + 0.5) / scale - 0.5 for c in (cx, CY))
    return np.array([
        [focal, 0.0, cx],
        [0.0, focal, cy],
        [0.0, 0.0, 1.0],
    ])


def block_mean(array: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """Mean of each ``s x s`` block (``[H, W]`` -> ``[H/s, W/s]``)."""
    height, width = array.shape[0] // scale, array.shape[1] // scale
    blocks = array[:height * scale, :width * scale].reshape(
        height, scale, width, scale)
    return blocks.mean(axis=(1, 3))


def downsample_image(image: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """``uint8 [H, W, 3]`` -> ``[H/s, W/s, 3]`` (``cv2.INTER_AREA``)."""
    height, width = image.shape[0] // scale, image.shape[1] // scale
    image = np.ascontiguousarray(image[:height * scale, :width * scale])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def write_motorcycle(root: str, scale: int = SCALE) -> dict:
    """Write the pair as a DTU root at ``root``; returns ``info``:
    ``cameras``, ``images``, ``depth`` (the reference view's ground truth,
    0 = none) and ``mask`` (ground truth seen by both views).

    ``scale`` (a key of :data:`SIZES`) divides the shipped resolution: 4
    gives 120x184 images, 8 gives 56x88.
    """
    if scale not in SIZES:
        raise ValueError(f'scale: one of {sorted(SIZES)}, got {scale!r}')
    left, right, disparity = skimage_data.stereo_motorcycle()
    valid = np.isfinite(disparity)  # the invalid pixels are inf
    depth = np.where(
        valid, BASELINE * FOCAL / (np.where(valid, disparity, 0) + DOFFS), 0.0)
    # Low-resolution ground truth: the mean depth of a block, where the
    # whole block has one (0 elsewhere).
    valid_low = block_mean(valid.astype(np.float64), scale) == 1.0
    depth_low = np.where(valid_low, block_mean(depth, scale), 0.0)
    disparity_low = np.where(
        valid_low, block_mean(np.where(valid, disparity, 0.0), scale), 0.0)
    height, width = SIZES[scale]
    images = [downsample_image(x, scale)[:height, :width]
              for x in (left, right)]
    depth_low = depth_low[:height, :width].astype(np.float32)
    # Seen by the right camera: not in the left strip that leaves its view.
    columns = np.arange(width)[None, :]
    visible = (columns - disparity_low[:height, :width] / scale) >= 0

    extrinsic_right = np.eye(4)
    extrinsic_right[0, 3] = -BASELINE  # right camera centre at x = +baseline
    cameras = [
        MVSCamera(np.eye(4), scaled_intrinsic(CX_LEFT, scale), DEPTH_MIN,
                  DEPTH_INTERVAL),
        MVSCamera(extrinsic_right, scaled_intrinsic(CX_LEFT + DOFFS, scale),
                  DEPTH_MIN, DEPTH_INTERVAL)
    ]
    layout = DTULayout(root)
    write_scan_list(layout.scan_list('train'), [SCAN])
    write_pair_txt(layout.pair_file(), {0: [(1, 1.0)], 1: [(0, 1.0)]})
    for view, (camera, image) in enumerate(zip(cameras, images)):
        write_cam_txt(layout.cam_file(view), camera)
        path = layout.train_image(SCAN, view, LIGHT)
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(image).save(path)
    write_pfm(layout.depth_file(SCAN, 0), depth_low)
    return dict(cameras=cameras,
                images=images,
                depth=depth_low,
                mask=(depth_low > 0) & visible)


def read_sample(root: str) -> dict:
    """The reference view (left) with its source (right), 1 level."""
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
