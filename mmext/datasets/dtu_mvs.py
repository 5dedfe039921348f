"""``mmext.DTUMVSDataset``: multi-view-stereo samples from a DTU root.

Reads the DTU data set (Aanaes et al., "Large-Scale Data for Multiple-View
Stereopsis", IJCV 2016) in the layout of the CVP-MVSNet reference (Yang et
al., "Cost Volume Pyramid Based Depth Inference for Multi-View Stereo",
CVPR 2020, public repository JiayuYANG/CVP-MVSNet; see
:mod:`mmext.datasets.dtu_io`), and the Shapes-MVS roots that mmext writes in
the same layout.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

from mmext.datasets.dtu_io import (DTULayout, MVSCamera, check_pairs,
                                   read_cam_txt, read_pair_txt, read_pfm,
                                   read_scan_list)
from mmext.registry import DATASETS

__all__ = ['DTUMVSDataset']

SPLITS = ('train', 'test')
#: DTU's seven lighting conditions.
DTU_LIGHTS = (0, 1, 2, 3, 4, 5, 6)


def _positive_int(value, name: str, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f'DTUMVSDataset: {name}={value!r} must be a '
                         f'positive integer; {fix}')
    return int(value)


def downsample_depth(depth: np.ndarray, level: int,
                     drop_blended: bool = False) -> np.ndarray:
    """The ground truth of pyramid level ``level`` as the reference makes
    it: PIL bicubic resizing of the float32 ('F') full-resolution map.

    Args:
        depth: ``[H, W]`` float32, 0 where invalid.
        level: Downsampling by ``2 ** level``.
        drop_blended: Set a coarse pixel to 0 (invalid) wherever the
            bicubic filter reaches an invalid fine pixel. The reference does
            not: its pixels next to invalid ones blend towards 0 and only
            the loss's ``depth > depth_min`` drops the worst. That suits
            ground truth with holes at object borders only; pseudo depth
            has holes everywhere a label was not confident, and the blended
            values there are wrong by centimetres (an mmext option).

    Returns:
        ``[H // 2**level, W // 2**level]`` float32.
    """
    if level == 0:
        return depth
    height, width = depth.shape
    size = (width >> level, height >> level)  # PIL takes (W, H)
    image = Image.fromarray(np.ascontiguousarray(depth, np.float32))  # 'F'
    coarse = np.asarray(image.resize(size, Image.BICUBIC), dtype=np.float32)
    if not drop_blended:
        return coarse
    # The filter of an invalid-pixel indicator is non-zero exactly where
    # the filter reaches one.
    invalid = Image.fromarray((depth <= 0).astype(np.float32))
    reach = np.asarray(invalid.resize(size, Image.BICUBIC))
    return np.where(np.abs(reach) > 1e-6, 0, coarse).astype(np.float32)


@DATASETS.register_module()
class DTUMVSDataset(torch.utils.data.Dataset):
    """Reference views of DTU scans with their best source views.

    Samples are ``scans x reference views x lights`` for ``split='train'``
    (in that nesting order, as the reference) and ``scans x reference
    views`` under light 3 for ``split='test'``. Reference view ``v`` takes
    its first ``nsrc`` source views in ``Cameras/pair.txt`` order.

    Construction reads the scan list, ``pair.txt`` and every camera once
    (cached), checks that every image and depth map that a sample needs
    exists and reads the size of each scan's first image (header only);
    images and depths are read per item.

    Each item is a dict::

        imgs        FloatTensor [V, 3, H, W], RGB in [0, 1], no mean/std;
                    V = nsrc + 1, index 0 the reference view
        intrinsics  FloatTensor [V, 3, 3] for the (cropped) images
        extrinsics  FloatTensor [V, 4, 4] world-to-camera
        depth_min   float, the reference camera's
        depth_max   float, depth_min + num_depth_intervals * interval
        depths      [FloatTensor [H / 2**l, W / 2**l] for l < num_levels],
                    finest first; only with ``with_depth``. 0 is invalid.
                    Coarser levels are PIL bicubic resizes of the finest
                    (as the reference's ``dataset/dtu_jiayu.py``).
        meta        dict(scan, view, light, src_views, image_file,
                    data_root)

    Args:
        data_root (str): The DTU root (``Cameras/``, ``Rectified/`` ...).
        split (str): ``'train'`` reads ``scan_list_train.txt``, the
            ``{scan}_train`` folders, the ``lights`` and the depths;
            ``'test'`` reads ``scan_list_test.txt`` and
            ``Rectified/{scan}/rect_*_3_r5000.png`` (light 3), no depth.
        nsrc (int): Source views per sample. Defaults to 2.
        num_levels (int): Pyramid levels of the ground truth; image sizes
            must be divisible by ``2 ** (num_levels - 1)``. Defaults to 2.
        lights (Sequence[int]): Lights of the train split (DTU: 0-6);
            ignored by the test split.
        num_depth_intervals (int): ``depth_max = depth_min +
            num_depth_intervals * depth_interval``. Defaults to 256.
        crop (tuple[int, int], optional): ``(H, W)``: keep the top ``H``
            rows and left ``W`` columns of every image and depth map, as the
            reference's test reader does (1200x1600 -> ``(1184, 1600)``).
            The origin does not move, so intrinsics are unchanged.
        with_depth (bool, optional): Load the ground truth
            (``Depths/{scan}_train/...``; test: ``Depths/{scan}/...``).
            Defaults to True for train, False for test.
        scan_list (str, optional): A scan list file to read instead of
            ``scan_list_{split}.txt`` (relative to ``data_root`` or
            absolute).
        max_views (int, optional): Use only the first ``max_views``
            reference views of ``pair.txt`` (sources are unrestricted).
        depth_root (str, optional): Read ``Depths/`` from this directory
            instead of ``data_root`` (same file names), e.g. a round of
            pseudo depth from ``tools/mvs/make_pseudo_depth.py``.
        drop_blended_depth (bool): Coarse levels' depth is invalid wherever
            the downsampling filter reaches an invalid pixel (see
            :func:`downsample_depth`); False reproduces the reference, True
            suits pseudo depth with scattered holes.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 nsrc: int = 2,
                 num_levels: int = 2,
                 lights: Sequence[int] = DTU_LIGHTS,
                 num_depth_intervals: int = 256,
                 crop: Optional[Tuple[int, int]] = None,
                 with_depth: Optional[bool] = None,
                 scan_list: Optional[str] = None,
                 max_views: Optional[int] = None,
                 depth_root: Optional[str] = None,
                 drop_blended_depth: bool = False) -> None:
        super().__init__()
        if not isinstance(data_root, str) or not osp.isdir(data_root):
            raise ValueError(f'DTUMVSDataset: data_root={data_root!r} is not '
                             'a directory; point it at the DTU root holding '
                             'Cameras/, Rectified/ and the scan lists')
        if split not in SPLITS:
            raise ValueError(f'DTUMVSDataset: split={split!r} must be one of '
                             f'{SPLITS}')
        self.data_root = data_root
        self.split = split
        self.layout = DTULayout(data_root)
        if depth_root is not None and not osp.isdir(depth_root):
            raise ValueError(f'DTUMVSDataset: depth_root={depth_root!r} is '
                             'not a directory; point it at a folder holding '
                             'Depths/ (or leave it None to read data_root)')
        self.depth_root = depth_root
        self.drop_blended_depth = bool(drop_blended_depth)
        self.depth_layout = DTULayout(depth_root or data_root)
        self.nsrc = _positive_int(nsrc, 'nsrc', 'e.g. nsrc=2')
        self.num_levels = _positive_int(num_levels, 'num_levels',
                                        'e.g. num_levels=2')
        self.num_depth_intervals = _positive_int(
            num_depth_intervals, 'num_depth_intervals',
            'DTU uses 256 (depth_max = depth_min + 256 * interval)')
        if split == 'train':
            lights = tuple(lights)
            if not lights or len(set(lights)) != len(lights) or any(
                    isinstance(x, bool)
                    or not isinstance(x, (int, np.integer)) or x < 0
                    for x in lights):
                raise ValueError(
                    f'DTUMVSDataset: lights={lights!r} must be distinct '
                    'non-negative integers, e.g. (0, 1, 2, 3, 4, 5, 6)')
            self.lights = tuple(int(x) for x in lights)
        else:
            self.lights = (DTULayout.TEST_LIGHT, )
        if crop is not None:
            if (not isinstance(crop, (tuple, list)) or len(crop) != 2):
                raise ValueError(f'DTUMVSDataset: crop={crop!r} must be None '
                                 'or (height, width), e.g. (1184, 1600)')
            crop = (_positive_int(crop[0], 'crop[0]', 'the height'),
                    _positive_int(crop[1], 'crop[1]', 'the width'))
        self.crop = crop
        if with_depth is None:
            with_depth = split == 'train'
        if not isinstance(with_depth, bool):
            raise ValueError(f'DTUMVSDataset: with_depth={with_depth!r} must '
                             'be True, False or None (train: True, test: '
                             'False)')
        self.with_depth = with_depth
        if max_views is not None:
            max_views = _positive_int(max_views, 'max_views',
                                      'or None for every view')
        self.max_views = max_views

        if scan_list is None:
            scan_list = self.layout.scan_list(split)
        elif not osp.isabs(scan_list):
            scan_list = osp.join(data_root, scan_list)
        self.scan_list_file = scan_list
        if not osp.isfile(scan_list):
            raise ValueError(f'DTUMVSDataset: scan list {scan_list!r} does '
                             f'not exist; write scan_list_{split}.txt (one '
                             'scan name per line) or pass scan_list=')
        self._scans = read_scan_list(scan_list)
        self._pairs, self._cameras = self._read_cameras()
        self._ref_views = list(self._pairs)[:max_views]
        self._check_files()
        self._samples = [(scan, view, light) for scan in self._scans
                         for view in self._ref_views for light in self.lights]

    # ------------------------------------------------------------------
    # Construction checks
    # ------------------------------------------------------------------
    def _read_cameras(self) -> Tuple[Dict, Dict[int, MVSCamera]]:
        """Parse ``pair.txt`` and every camera it names once."""
        pair_file = self.layout.pair_file()
        if not osp.isfile(pair_file):
            raise ValueError(f'DTUMVSDataset: pair file {pair_file!r} does '
                             'not exist')
        pairs = read_pair_txt(pair_file)
        views = set(pairs)
        for sources in pairs.values():
            views.update(src for src, _ in sources)
        with_camera = {
            v
            for v in views if v >= 0 and osp.isfile(self._cam_file(v))
        }
        check_pairs(pairs, len(pairs), pair_file, available=with_camera)
        for ref, sources in pairs.items():
            if len(sources) < self.nsrc:
                raise ValueError(
                    f'pair.txt {pair_file!r}: reference view {ref} has '
                    f'{len(sources)} source views, nsrc={self.nsrc} needs '
                    f'{self.nsrc}; lower nsrc or list more sources')
        needed = set(pairs)
        for sources in pairs.values():
            needed.update(src for src, _ in sources[:self.nsrc])
        cameras = {}
        for view in sorted(needed):
            cameras[view] = read_cam_txt(self._cam_file(view))
        for view in pairs:
            camera = cameras[view]
            depth_max = camera.depth_max(self.num_depth_intervals)
            if not camera.depth_min < depth_max:
                raise ValueError(
                    f'cam.txt {self._cam_file(view)!r}: depth_min '
                    f'{camera.depth_min} >= depth_max {depth_max} (= '
                    f'depth_min + {self.num_depth_intervals} * '
                    f'depth_interval {camera.depth_interval}); the depth '
                    'interval must be positive')
        return pairs, cameras

    def _cam_file(self, view: int) -> str:
        # Train and test read the same common Cameras/ folder (the
        # reference's getCameraFile ignores scan and mode).
        return self.layout.cam_file(view)

    def _image_file(self, scan: str, view: int, light: int) -> str:
        return self.layout.image(self.split, scan, view, light)

    def _check_files(self) -> None:
        """Every image and depth map a sample needs exists; each scan's
        first image has a usable size."""
        pair_file = self.layout.pair_file()
        for scan in self._scans:
            folder = osp.dirname(self._image_file(scan, 0, self.lights[0]))
            if not osp.isdir(folder):
                raise ValueError(f'DTUMVSDataset: scan {scan!r} of '
                                 f'{self.scan_list_file!r} has no image '
                                 f'folder {folder!r}')
            for ref in self._ref_views:
                for light in self.lights:
                    image = self._image_file(scan, ref, light)
                    if not osp.isfile(image):
                        raise ValueError(f'DTUMVSDataset: image {image!r} '
                                         f'(scan {scan}, view {ref}, light '
                                         f'{light}) does not exist')
                    for src, _ in self._pairs[ref][:self.nsrc]:
                        image = self._image_file(scan, src, light)
                        if not osp.isfile(image):
                            raise ValueError(
                                f'pair.txt {pair_file!r}: reference view '
                                f'{ref} names source view {src}, which has '
                                f'no image {image!r}')
                if self.with_depth:
                    depth = self.depth_layout.depth_file(
                        scan, ref, self.split)
                    if not osp.isfile(depth):
                        raise ValueError(
                            f'DTUMVSDataset: depth map {depth!r} (scan '
                            f'{scan}, view {ref}) does not exist; pass '
                            'with_depth=False to read images only')
            if self._ref_views:
                first = self._image_file(scan, self._ref_views[0],
                                         self.lights[0])
                with Image.open(first) as image:
                    width, height = image.size
                self._check_size(first, height, width)

    def _check_size(self, image_file: str, height: int,
                    width: int) -> Tuple[int, int]:
        """The size after the crop; raises if it is not usable."""
        if self.crop is not None:
            if height < self.crop[0] or width < self.crop[1]:
                raise ValueError(
                    f'DTUMVSDataset: image {image_file!r} is {height}x'
                    f'{width} (HxW), smaller than crop={self.crop}; lower '
                    'the crop')
            height, width = self.crop
        factor = 2**(self.num_levels - 1)
        if height % factor or width % factor:
            raise ValueError(
                f'DTUMVSDataset: image {image_file!r} is {height}x{width} '
                f'(HxW{" after the crop" if self.crop else ""}), not '
                f'divisible by 2**(num_levels - 1) = {factor} for '
                f'num_levels={self.num_levels}; crop it (crop=(H, W) with H '
                f'and W multiples of {factor}) or use fewer levels')
        return height, width

    # ------------------------------------------------------------------
    # Public accessors
    # ------------------------------------------------------------------
    @property
    def scans(self) -> List[str]:
        """The scan names, in scan-list order."""
        return list(self._scans)

    @property
    def pairs(self) -> Dict[int, List[Tuple[int, float]]]:
        """``pair.txt``: ``{ref: [(src, score), ...]}``, best first."""
        return {ref: list(src) for ref, src in self._pairs.items()}

    @property
    def ref_views(self) -> List[int]:
        """The reference views used (``pair.txt`` order, ``max_views``)."""
        return list(self._ref_views)

    def scan_of(self, index: int) -> str:
        """The scan of item ``index``, without reading it."""
        return self._samples[index][0]

    def camera(self, scan: str, view: int) -> MVSCamera:
        """The camera of ``view`` (DTU: one per view, common to all scans).

        Raises:
            KeyError: ``scan`` is not a scan of this dataset or ``view`` has
                no camera among the views ``pair.txt`` uses.
        """
        if scan not in self._scans:
            raise KeyError(f'scan {scan!r} is not in {self.scan_list_file!r}')
        if view not in self._cameras:
            if view not in self._pairs and osp.isfile(self._cam_file(view)):
                self._cameras[view] = read_cam_txt(self._cam_file(view))
            else:
                raise KeyError(f'view {view} has no camera '
                               f'{self._cam_file(view)!r}')
        return self._cameras[view]

    @property
    def metainfo(self) -> dict:
        """A copy of the dataset's settings."""
        return dict(dataset_name='DTU',
                    data_root=self.data_root,
                    split=self.split,
                    scans=self.scans,
                    ref_views=self.ref_views,
                    lights=self.lights,
                    nsrc=self.nsrc,
                    num_levels=self.num_levels,
                    num_depth_intervals=self.num_depth_intervals,
                    crop=self.crop,
                    with_depth=self.with_depth,
                    depth_root=self.depth_root)

    def __len__(self) -> int:
        return len(self._samples)

    # ------------------------------------------------------------------
    # Items
    # ------------------------------------------------------------------
    def _read_image(self, path: str) -> np.ndarray:
        """``[H, W, 3]`` float32 RGB in [0, 1], cropped and checked."""
        with Image.open(path) as image:
            pixels = np.asarray(image.convert('RGB'), dtype=np.float32)
        height, width = self._check_size(path, *pixels.shape[:2])
        return pixels[:height, :width] / 255.0

    def _read_depth(self, path: str, shape: Tuple[int, int]) -> np.ndarray:
        """``[H, W]`` float32 ground truth, cropped like the images."""
        depth = read_pfm(path)
        if depth.ndim != 2:
            raise ValueError(f'DTUMVSDataset: depth map {path!r} has shape '
                             f'{depth.shape}, expected a grey [H, W] PFM')
        if self.crop is not None:
            depth = depth[:self.crop[0], :self.crop[1]]
        if depth.shape != shape:
            raise ValueError(
                f'DTUMVSDataset: depth map {path!r} is {depth.shape[0]}x'
                f'{depth.shape[1]}{" after the crop" if self.crop else ""}, '
                f'the images {shape[0]}x{shape[1]}; the depth must have the '
                'image size (MVSNet training data pairs 512x640 images with '
                '128x160 depth: use the CVP-MVSNet 128x160 images)')
        return depth

    def __getitem__(self, index: int) -> dict:
        scan, ref, light = self._samples[index]
        src_views = [src for src, _ in self._pairs[ref][:self.nsrc]]
        views = [ref] + src_views
        image_files = [self._image_file(scan, v, light) for v in views]
        images = [self._read_image(path) for path in image_files]
        for path, image in zip(image_files[1:], images[1:]):
            if image.shape != images[0].shape:
                raise ValueError(
                    f'DTUMVSDataset: image {path!r} is {image.shape[0]}x'
                    f'{image.shape[1]}, the reference image '
                    f'{image_files[0]!r} {images[0].shape[0]}x'
                    f'{images[0].shape[1]}; all views must have one size')
        imgs = torch.from_numpy(np.stack(images)).permute(0, 3, 1,
                                                          2).contiguous()
        cameras = [self._cameras[v] for v in views]
        item = dict(
            imgs=imgs,  # [V, 3, H, W]
            intrinsics=torch.from_numpy(
                np.stack([c.intrinsic for c in cameras]).astype(np.float32)),
            extrinsics=torch.from_numpy(
                np.stack([c.extrinsic for c in cameras]).astype(np.float32)),
            depth_min=float(cameras[0].depth_min),
            depth_max=float(cameras[0].depth_max(self.num_depth_intervals)))
        if self.with_depth:
            depth = self._read_depth(
                self.depth_layout.depth_file(scan, ref, self.split),
                images[0].shape[:2])
            item['depths'] = [
                torch.from_numpy(downsample_depth(
                    depth, level, self.drop_blended_depth).copy())
                for level in range(self.num_levels)
            ]  # [H / 2**l, W / 2**l], finest first
        item['meta'] = dict(scan=scan,
                            view=ref,
                            light=light,
                            src_views=src_views,
                            image_file=image_files[0],
                            data_root=self.data_root)
        return item

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(data_root={self.data_root!r}, '
                f'split={self.split!r}, scans={len(self._scans)}, '
                f'views={len(self._ref_views)}, lights={len(self.lights)}, '
                f'samples={len(self)})')
