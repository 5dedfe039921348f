"""Depth maps of every view of a test set, and their fusion into DTU's
point-cloud files.

The evaluation pipeline of CVP-MVSNet (Yang et al., CVPR 2020; public
repository JiayuYANG/CVP-MVSNet, ``eval.py``): run the network with every
view as the reference, keep the finest depth map and its confidence, fuse
each scan's maps (:func:`mmext.mvs.fusion.fuse_scan`) and write
``{method}{scan_number:03d}_l3.ply``, the name DTU's evaluation reads
(Aanaes et al., IJCV 2016).

``tools/mvs/fuse_depths.py`` is the command line of this module.
"""
import os
import os.path as osp
import warnings
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .fusion import ViewPrediction, fuse_scan
from .ply import write_point_cloud

__all__ = [
    'check_outputs', 'fuse_and_save', 'fused_ply_name', 'iter_scan_views',
    'predict_views', 'view_prediction', 'select_indices', 'RecordingSubset'
]

#: ``{out_dir}/{DEPTH_DIR}/{scan}/{view:08d}.pfm`` and ``CONFIDENCE_DIR``.
DEPTH_DIR = 'depths'
CONFIDENCE_DIR = 'confidence'


def fused_ply_name(scan: str, method: str = 'cvpmvsnet') -> str:
    """DTU's file name of a scan's reconstruction.

    Args:
        scan (str): ``'scan12'``.
        method (str): The method part of the name.

    Returns:
        str: ``'cvpmvsnet012_l3.ply'`` (``l3``: the all-lights setting).
    """
    from mmext.datasets.dtu_io import scan_number
    return f'{method}{scan_number(scan):03d}_l3.ply'


def _run_model(model: nn.Module, item: dict) -> dict:
    """The model's tensor-mode outputs for one dataset item (batch of 1).

    A model with a data preprocessor (an MMEngine ``BaseModel`` such as
    :class:`mmext.CVPMVSNet`) gets the preprocessed batch (without the
    item's ground-truth ``depths``) and ``mode='tensor'``; a plain module gets ``(imgs, intrinsics,
    extrinsics, depth_min, depth_max)`` with a batch dimension.
    """
    preprocessor = getattr(model, 'data_preprocessor', None)
    if preprocessor is not None:
        from mmengine.dataset import pseudo_collate
        # Ground truth is not needed to predict.
        inputs = {k: v for k, v in item.items() if k != 'depths'}
        data = preprocessor(pseudo_collate([inputs]), False)
        return model(**data, mode='tensor')
    device = next(iter(model.parameters()), torch.zeros(0)).device
    return model(
        torch.as_tensor(item['imgs'])[None].float().to(device),
        torch.as_tensor(item['intrinsics'])[None].float().to(device),
        torch.as_tensor(item['extrinsics'])[None].float().to(device),
        torch.tensor([float(item['depth_min'])], device=device),
        torch.tensor([float(item['depth_max'])], device=device))


def view_prediction(item: dict, outputs: dict) -> ViewPrediction:
    """The reference view's prediction from a dataset item and the model's
    outputs on it (batch of 1).

    Args:
        item (dict): ``imgs [V, 3, H, W]`` in [0, 1] (view 0 the
            reference), ``intrinsics [V, 3, 3]``, ``extrinsics [V, 4, 4]``.
        outputs (dict): ``depths`` (list, finest first, of ``[1, H, W]``)
            and ``confidence [1, H, W]``.

    Returns:
        ViewPrediction: Finest depth, confidence, the reference image as
        uint8 RGB and the reference camera.

    Raises:
        ValueError: If the finest depth map is not at the image size (the
            reference intrinsics would not match it).
    """
    depth = outputs['depths'][0][0].detach().float().cpu().numpy()
    confidence = outputs['confidence'][0].detach().float().cpu().numpy()
    image = torch.as_tensor(item['imgs'])[0].float()
    image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    image = image.permute(1, 2, 0).cpu().numpy()
    if depth.shape != image.shape[:2]:
        raise ValueError(
            f'the finest depth map is {depth.shape}, the reference image '
            f'{image.shape[:2]}; fusion uses the reference intrinsics of the '
            'input size, so the model must predict at full resolution')
    return ViewPrediction(
        depth=depth,
        confidence=confidence,
        image=image,
        intrinsic=torch.as_tensor(item['intrinsics'])[0].double().numpy(),
        extrinsic=torch.as_tensor(item['extrinsics'])[0].double().numpy())


def iter_scan_views(model: nn.Module,
                    dataset: Sequence[dict],
                    *,
                    progress: bool = True
                    ) -> Iterator[Tuple[str, Dict[int, ViewPrediction]]]:
    """Run the model on every item and yield each scan once it is complete.

    Items are visited in order; a scan is yielded when the next item
    belongs to another scan (the dataset's items of one scan must be
    consecutive, as :class:`mmext.DTUMVSDataset` orders them), so only one
    scan's maps are held at a time. A (scan, view) seen again (the train
    split's other lights) is skipped without running the model, with a
    warning at the end.

    Args:
        model (nn.Module): The network (see :func:`predict_views`); set
            to eval mode.
        dataset (Sequence[dict]): Items with ``imgs``, ``intrinsics``,
            ``extrinsics``, ``depth_min``, ``depth_max`` and
            ``meta=dict(scan, view, ...)``.
        progress (bool): Show a tqdm progress bar.

    Yields:
        tuple[str, dict[int, ViewPrediction]]: The scan and its views.

    Raises:
        ValueError: If a scan's items are not consecutive.
    """
    from tqdm import tqdm
    model.eval()
    done: List[str] = []
    scan: Optional[str] = None
    views: Dict[int, ViewPrediction] = {}
    repeated = 0
    with torch.no_grad(), tqdm(total=len(dataset), disable=not progress,
                               unit='view', desc='depth maps') as bar:
        for index in range(len(dataset)):
            item = dataset[index]
            meta = item['meta']
            item_scan, view = str(meta['scan']), int(meta['view'])
            if item_scan != scan:
                if scan is not None:
                    yield scan, views
                    done.append(scan)
                if item_scan in done:
                    raise ValueError(
                        f'dataset: item {index} belongs to {item_scan!r}, '
                        'whose items ended earlier; the items of a scan '
                        'must be consecutive')
                scan, views = item_scan, {}
            if view in views:
                repeated += 1
            else:
                views[view] = view_prediction(item, _run_model(model, item))
            bar.update(1)
    if scan is not None:
        yield scan, views
    if repeated:
        warnings.warn(f'{repeated} items repeat a (scan, view) already '
                      'predicted (e.g. other lights); the first was kept')


def predict_views(model: nn.Module,
                  dataset: Sequence[dict],
                  *,
                  progress: bool = True
                  ) -> Dict[str, Dict[int, ViewPrediction]]:
    """The finest depth map and confidence of every reference view.

    The model runs in eval mode without gradients on each item (one item
    per reference view, e.g. a test-split :class:`mmext.DTUMVSDataset`):
    :class:`mmext.CVPMVSNet` (any model with a data preprocessor) through
    its preprocessor and ``mode='tensor'``, a plain module as
    ``model(imgs, intrinsics, extrinsics, depth_min, depth_max)``; both
    return ``dict(depths=[finest first], confidence)``. Holds every scan in
    memory; :func:`iter_scan_views` holds one at a time.

    Args:
        model (nn.Module): The network (:func:`mmext.apis.init_model`).
        dataset (Sequence[dict]): See :func:`iter_scan_views`.
        progress (bool): Show a tqdm progress bar.

    Returns:
        dict[str, dict[int, ViewPrediction]]: ``{scan: {view: prediction}}``.
    """
    return dict(iter_scan_views(model, dataset, progress=progress))


def _scan_outputs(out_dir: str, scan: str, method: str) -> List[str]:
    return [
        osp.join(out_dir, fused_ply_name(scan, method)),
        osp.join(out_dir, DEPTH_DIR, scan),
        osp.join(out_dir, CONFIDENCE_DIR, scan)
    ]


def check_outputs(out_dir: str,
                  scans: Sequence[str],
                  *,
                  overwrite: bool = False,
                  method: str = 'cvpmvsnet') -> None:
    """Refuse to replace earlier outputs of these scans unless told to.

    Call it before the (slow) prediction: nothing is computed only to be
    refused at the end.

    Raises:
        FileExistsError: If a scan's point cloud or depth folder exists
            in ``out_dir`` and ``overwrite`` is False (names them and the
            flag).
    """
    if overwrite:
        return
    existing = [
        path for scan in scans for path in _scan_outputs(out_dir, scan,
                                                         method)
        if osp.exists(path)
    ]
    if existing:
        shown = ', '.join(existing[:5]) + (' ...' if len(existing) > 5
                                           else '')
        raise FileExistsError(
            f'{len(existing)} outputs exist ({shown}); pass --overwrite '
            '(overwrite=True) to replace them, or choose another --out')


def fuse_and_save(scan: str,
                  views: Dict[int, ViewPrediction],
                  pairs: Dict[int, list],
                  out_dir: str,
                  *,
                  overwrite: bool = False,
                  save_depths: bool = True,
                  method: str = 'cvpmvsnet',
                  **fusion_kwargs) -> Dict[str, object]:
    """Fuse one scan and write its point cloud (and depth maps).

    Writes ``{out_dir}/{method}{N:03d}_l3.ply`` and, with
    ``save_depths``, ``{out_dir}/depths/{scan}/{view:08d}.pfm`` and
    ``{out_dir}/confidence/{scan}/{view:08d}.pfm`` (the reference's
    ``depth_est/`` and ``confidence/`` maps). Every file is written
    atomically.

    Args:
        scan (str): ``'scan12'``.
        views (dict[int, ViewPrediction]): Its predictions.
        pairs (dict[int, list]): Source views by reference view.
        out_dir (str): Output folder.
        overwrite (bool): Replace existing files.
        save_depths (bool): Also write the PFM maps.
        method (str): The method part of the PLY name.
        **fusion_kwargs: Passed to :func:`mmext.mvs.fusion.fuse_scan`.

    Returns:
        dict: ``scan``, ``file`` (the PLY), ``num_points``, ``num_pixels``
        (all pixels of all views) and ``kept_fraction``.
    """
    check_outputs(out_dir, [scan], overwrite=overwrite, method=method)
    points, colors = fuse_scan(views, pairs, **fusion_kwargs)
    path = osp.join(out_dir, fused_ply_name(scan, method))
    os.makedirs(out_dir, exist_ok=True)
    write_point_cloud(path, points, colors, overwrite=overwrite)
    if save_depths:
        from mmext.datasets.dtu_io import write_pfm
        for view, prediction in views.items():
            name = f'{view:08d}.pfm'
            write_pfm(osp.join(out_dir, DEPTH_DIR, scan, name),
                      prediction.depth)
            write_pfm(osp.join(out_dir, CONFIDENCE_DIR, scan, name),
                      prediction.confidence)
    num_pixels = int(sum(np.prod(v.depth.shape) for v in views.values()))
    return dict(scan=scan, file=path, num_points=int(len(points)),
                num_pixels=num_pixels,
                kept_fraction=len(points) / max(num_pixels, 1))


def select_indices(dataset, scan: Optional[str],
                   views: Optional[Sequence[int]]
                   ) -> Tuple[str, List[int], List[int]]:
    """The dataset indices of ``views`` of ``scan``.

    Items are ordered scans x reference views x lights
    (:class:`mmext.DTUMVSDataset`); of several lights the test light 3 is
    taken when present, else the first.

    Returns:
        tuple[str, list[int], list[int]]: The scan, the views (defaults
        filled in) and one dataset index per view.

    Raises:
        ValueError: If the scan or a view is not in the dataset (the
            message lists the choices).
    """
    scans, ref_views = dataset.scans, dataset.ref_views
    lights = list(dataset.lights)
    scan = scans[0] if scan is None else scan
    if scan not in scans:
        raise ValueError(f'--scan: {scan!r} is not in the dataset; choose '
                         f'one of {scans}')
    views = ref_views[:3] if views is None else list(views)
    missing = [v for v in views if v not in ref_views]
    if missing or not views:
        raise ValueError(f'--views: {missing or views} are not reference '
                         f'views of the dataset; choose from {ref_views}')
    light = lights.index(3) if 3 in lights else 0
    base = scans.index(scan) * len(ref_views)
    return scan, views, [(base + ref_views.index(v)) * len(lights) + light
                  for v in views]


class RecordingSubset:
    """Some items of a dataset, keeping each item's finest ground-truth
    depth (None without) by ``(scan, view)`` as it passes."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)
        self.gt: Dict[Tuple[str, int], object] = {}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[self.indices[index]]
        depths = item.get('depths')
        meta = item['meta']
        self.gt[(str(meta['scan']), int(meta['view']))] = (
            depths[0].numpy() if depths else None)
        return item
