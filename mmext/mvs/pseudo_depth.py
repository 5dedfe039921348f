"""Pseudo depth labels from a trained network: the refinement step of the
self-supervised CVP-MVSNet (Yang, Alvarez, Liu, "Self-supervised Learning
of Depth Inference for Multi-view Stereo", CVPR 2021, arXiv:2104.02972,
Sec. 3.3; public repository JiayuYANG/Self-supervised-CVP-MVSNet,
``self_training/``).

For every training scan:

1. the network predicts every view's depth at high resolution (the
   reference: 1184x1600, 5 levels, 4 source views);
2. confident, multi-view consistent depths are fused into a point cloud
   (:func:`mmext.mvs.fuse_scan`; the reference keeps probability > 0.8 and
   points that 3 neighbouring views agree on);
3. a screened Poisson surface is reconstructed and its lowest-density 5 %
   of vertices trimmed (:mod:`mmext.mvs.surface`);
4. the mesh is rendered back to depth at every training camera and
   resolution by ray casting (:class:`mmext.mvs.raycast.MeshRayCaster`),
   the pseudo labels, written as the training data's ground truth is:
   ``Depths/{scan}_train/depth_map_{view:04d}.pfm``.

A round directory holds one round's labels and artefacts::

    ROUND/meta.json                        what the labels are for (scans,
                                           views, size, cameras, depth range)
    ROUND/Depths/{scan}_train/depth_map_{view:04d}.pfm   pseudo depth
    ROUND/points/cvpmvsnet{N:03d}_l3.ply   fused points (step 2)
    ROUND/meshes/{scan}.ply                the trimmed mesh (step 3)
    ROUND/scans/{scan}.json                per-scan summary, written last
    ROUND/scan_list_train.txt              the scans that got labels
    ROUND/summary.json                     all scans; the round is complete

A scan whose summary exists is done and never recomputed; the summary is
written after its depth folder, which appears at once (renamed from a
temporary folder), so a stopped round resumes where it stopped. Under
``torch.distributed`` each rank takes every ``world_size``-th scan.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmext.datasets.dtu_io import (DTULayout, MVSCamera, read_pfm,
                                   scan_number, write_pfm, write_scan_list)
from mmext.utils.atomic import atomic_write_json
from .fusion import ViewPrediction, fuse_scan
from .geometry import camera_centre
from .ply import write_point_cloud
from .raycast import MeshRayCaster
from .surface import (oriented_normals, screened_poisson, trim_by_density,
                      trim_by_distance)

__all__ = [
    'PseudoLabelSettings', 'RenderTarget', 'adjust_camera', 'label_scan',
    'local_texture', 'mask_untextured',
    'label_accuracy', 'make_pseudo_depth', 'round_is_complete',
    'check_round_dir'
]

META_FILE = 'meta.json'
SUMMARY_FILE = 'summary.json'
#: The labelled scans, for the next training round's ``scan_list``.
SCAN_LIST_FILE = 'scan_list_train.txt'


@dataclass(frozen=True)
class PseudoLabelSettings:
    """The thresholds of one pseudo-labelling round.

    Attributes:
        confidence_threshold: Photometric mask ``confidence > this``
            (the reference: 0.8).
        num_consistent: Source views that must agree (3).
        max_reprojection_error: Pixels (fusion, see
            :func:`mmext.mvs.fuse_scan`).
        max_relative_depth_error: Relative depth difference (fusion).
        max_sources: Source views of ``pair.txt`` checked per view.
        normal_neighbours: Points per normal fit.
        poisson_depth: Octree depth of the screened Poisson reconstruction
            (the reference: 12).
        poisson_threads: Threads of that reconstruction; None: this
            process's share of the CPUs it may use, so that the ranks of one
            machine do not oversubscribe its cores.
        trim_quantile: Vertices below this quantile of the Poisson density
            are removed (0.05).
        min_texture: Pixels whose reference image varies less than this
            (standard deviation of the grey level in [0, 1] over a
            ``texture_window`` square) are left out of the fusion, as a
            photometric mask: a network extrapolates depth into a blank
            background consistently across views (an mmext option; None
            keeps the reference's confidence mask alone).
        texture_window: Side of that square in pixels.
        max_point_distance: Vertices farther than this from every fused
            point are removed too (scene units), so that labels cover only
            observed surfaces; None keeps the reference's density trim
            alone.
        min_points: A scan whose fusion keeps fewer points gets no labels
            (a warning names it).
    """

    confidence_threshold: float = 0.8
    num_consistent: int = 3
    max_reprojection_error: float = 1.0
    max_relative_depth_error: float = 0.01
    max_sources: int = 10
    normal_neighbours: int = 10
    poisson_depth: int = 12
    poisson_threads: Optional[int] = None
    trim_quantile: float = 0.05
    min_texture: Optional[float] = None
    texture_window: int = 5
    max_point_distance: Optional[float] = None
    min_points: int = 1000

    def fusion_kwargs(self) -> dict:
        """The :func:`mmext.mvs.fuse_scan` arguments."""
        return dict(confidence_threshold=self.confidence_threshold,
                    num_consistent=self.num_consistent,
                    max_reprojection_error=self.max_reprojection_error,
                    max_relative_depth_error=self.max_relative_depth_error,
                    max_sources=self.max_sources)


def adjust_camera(camera: MVSCamera, scale: float,
                  offset: Tuple[float, float] = (0.0, 0.0)) -> MVSCamera:
    """A camera for a resized and cropped image: rows 0-1 of K times
    ``scale``, then ``offset`` added to the principal point.

    The reference renders its 128x160 labels from DTU's 1200x1600 cameras
    with ``scale = 1 / 8`` and ``offset = (-20, -11)``: the MVSNet training
    images are the 1600x1200 images halved, cropped to 640x512 (80 and 44
    pixels off each side) and quartered.

    Args:
        camera (MVSCamera): The high-resolution camera.
        scale (float): Resize factor (> 0).
        offset (tuple[float, float]): ``(dx, dy)`` added to ``(cx, cy)``.
    """
    if not scale > 0:
        raise ValueError(f'render.scale: must be > 0, got {scale!r}')
    intrinsic = np.array(camera.intrinsic, dtype=np.float64)
    intrinsic[:2] *= scale
    intrinsic[0, 2] += offset[0]
    intrinsic[1, 2] += offset[1]
    return MVSCamera(np.array(camera.extrinsic, dtype=np.float64), intrinsic,
                     camera.depth_min, camera.depth_interval)


@dataclass
class RenderTarget:
    """Where the labels go: the training data's scans, views, cameras and
    image size.

    Attributes:
        scans: Scan names (``'scan1'``).
        views: Reference views to label.
        cameras: ``{view: MVSCamera}`` at ``size`` (world-to-camera).
        size: ``(H, W)`` of the training images.
        depth_min: Depths at or below are dropped (0 = invalid).
        depth_max: Depths at or above are dropped.
        gt_root: A DTU root whose ``Depths/{scan}_train/`` holds ground
            truth at ``size`` (e.g. Shapes-MVS's train root), for the
            labels' accuracy; None where there is none.
    """

    scans: List[str]
    views: List[int]
    cameras: Dict[int, MVSCamera]
    size: Tuple[int, int]
    depth_min: float
    depth_max: float
    gt_root: Optional[str] = None
    fingerprint: str = field(init=False, default='')

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for view in sorted(self.cameras):
            camera = self.cameras[view]
            digest.update(np.round(np.asarray(camera.intrinsic), 4).tobytes())
            digest.update(np.round(np.asarray(camera.extrinsic), 4).tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    def meta(self) -> dict:
        """What ``meta.json`` records (and a later run must match)."""
        return dict(scans=list(self.scans), views=list(self.views),
                    size=list(self.size), depth_min=self.depth_min,
                    depth_max=self.depth_max, cameras=self.fingerprint)


def label_accuracy(label: np.ndarray, gt: np.ndarray,
                   depth_range: float) -> Dict[str, float]:
    """Coverage and error of pseudo depth against ground truth.

    Args:
        label (np.ndarray): ``[H, W]``, 0 = no label.
        gt (np.ndarray): ``[H, W]``, 0 = no ground truth.
        depth_range (float): ``depth_max - depth_min``.

    Returns:
        dict: ``gt_pixels``, ``labelled_gt_pixels`` (both valid),
        ``abs_error_sum`` and ``within_1pct`` (count of
        ``|label - gt| < 0.01 * depth_range``) over those pixels, so that
        scans add up.
    """
    both = (label > 0) & (gt > 0)
    error = np.abs(label[both].astype(np.float64) - gt[both])
    return dict(gt_pixels=int((gt > 0).sum()),
                labelled_gt_pixels=int(both.sum()),
                abs_error_sum=float(error.sum()),
                within_1pct=int((error < 0.01 * depth_range).sum()))


def local_texture(image: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of the grey level (in [0, 1]) over a ``window``
    square around every pixel of an ``[H, W, 3]`` uint8 image; ``[H, W]``."""
    from scipy.ndimage import uniform_filter
    grey = np.asarray(image, dtype=np.float64).mean(axis=2) / 255.0
    mean = uniform_filter(grey, window, mode='nearest')
    mean_sq = uniform_filter(grey * grey, window, mode='nearest')
    return np.sqrt(np.clip(mean_sq - mean * mean, 0, None))


def mask_untextured(view: ViewPrediction, min_texture: float,
                    window: int = 5) -> ViewPrediction:
    """The view with zero confidence where :func:`local_texture` is below
    ``min_texture``."""
    blank = local_texture(view.image, window) < min_texture
    return ViewPrediction(view.depth, np.where(blank, 0, view.confidence),
                          view.image, view.intrinsic, view.extrinsic)


def label_scan(views: Dict[int, ViewPrediction], pairs: Dict[int, list],
               target: RenderTarget, settings: PseudoLabelSettings
               ) -> Optional[dict]:
    """Steps 2-4 for one scan.

    Args:
        views (dict[int, ViewPrediction]): The high-resolution predictions.
        pairs (dict[int, list]): Their source views (``pair.txt``).
        target (RenderTarget): Cameras and size of the labels.
        settings (PseudoLabelSettings): Thresholds.

    Returns:
        dict or None: ``points``, ``colors`` (fused), ``vertices``,
        ``faces`` (trimmed mesh) and ``depths`` ``{view: [H, W]
        float32}``; None when fusion keeps fewer than
        ``settings.min_points`` points.
    """
    if settings.min_texture is not None:
        views = {
            v: mask_untextured(p, settings.min_texture,
                               settings.texture_window)
            for v, p in views.items()
        }
    points, colors, view_ids = fuse_scan(views, pairs, return_views=True,
                                         **settings.fusion_kwargs())
    if len(points) < settings.min_points:
        return None
    centres = np.stack([camera_centre(views[v].extrinsic)
                        for v in sorted(views)])
    index = np.searchsorted(np.array(sorted(views)), view_ids)
    normals = oriented_normals(points, centres[index],
                               settings.normal_neighbours)
    vertices, faces, density = screened_poisson(
        points, normals, settings.poisson_depth,
        threads=settings.poisson_threads)
    vertices, faces = trim_by_density(vertices, faces, density,
                                      settings.trim_quantile)
    if settings.max_point_distance is not None:
        vertices, faces = trim_by_distance(vertices, faces, points,
                                           settings.max_point_distance)
    depths = {}
    if len(faces):
        import trimesh
        caster = MeshRayCaster(
            trimesh.Trimesh(vertices, faces, process=False))
    for view in target.views:
        if not len(faces):
            depths[view] = np.zeros(target.size, np.float32)
            continue
        camera = target.cameras[view]
        depth = caster.depth_map(camera.intrinsic, camera.extrinsic,
                                 target.size)
        keep = (depth > target.depth_min) & (depth < target.depth_max)
        depths[view] = np.where(keep, depth, 0).astype(np.float32)
    return dict(points=points, colors=colors, vertices=vertices, faces=faces,
                depths=depths)


def _depth_folder(round_dir: str, scan: str) -> str:
    return osp.join(round_dir, 'Depths', f'{scan}_train')


def _scan_summary_file(round_dir: str, scan: str) -> str:
    return osp.join(round_dir, 'scans', f'{scan}.json')


def _write_depth_folder(folder: str, depths: Dict[int, np.ndarray]) -> None:
    """Write every view's map into a temporary sibling, then rename it to
    ``folder`` (replacing a stale one of an interrupted run)."""
    parent = osp.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix='.tmp-')
    try:
        for view, depth in depths.items():
            write_pfm(osp.join(tmp, f'depth_map_{view:04d}.pfm'), depth)
        if osp.isdir(folder):
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_mesh(path: str, vertices: np.ndarray, faces: np.ndarray) -> None:
    import trimesh

    from mmext.utils.atomic import atomic_write
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    atomic_write(path, lambda tmp: mesh.export(tmp, file_type='ply'),
                 suffix='.ply')


def _scan_accuracy(target: RenderTarget, scan: str,
                   depths: Dict[int, np.ndarray]) -> Optional[dict]:
    """Summed :func:`label_accuracy` over the views with ground truth."""
    if target.gt_root is None:
        return None
    layout = DTULayout(target.gt_root)
    total: Dict[str, float] = {}
    for view, depth in depths.items():
        path = layout.depth_file(scan, view, 'train')
        if not osp.isfile(path):
            return None
        gt = read_pfm(path)
        if gt.shape != depth.shape:
            raise ValueError(
                f'gt_root: ground truth {path!r} is {gt.shape}, the labels '
                f'{depth.shape}; point gt_root at the training root whose '
                'images have the label size')
        for key, value in label_accuracy(
                depth, gt, target.depth_max - target.depth_min).items():
            total[key] = total.get(key, 0) + value
    return total


def process_scan(scan: str, views: Dict[int, ViewPrediction],
                 pairs: Dict[int, list], target: RenderTarget,
                 settings: PseudoLabelSettings, round_dir: str) -> dict:
    """Label one scan and write its files; returns its summary."""
    result = label_scan(views, pairs, target, settings)
    summary = dict(scan=scan, views=len(target.views))
    if result is None:
        warnings.warn(
            f'pseudo labels: {scan} keeps fewer than min_points='
            f'{settings.min_points} fused points; it gets no labels (its '
            'views drop out of the next training round)')
        summary.update(skipped=True, num_points=None)
    else:
        depths = result['depths']
        write_point_cloud(
            osp.join(round_dir, 'points',
                     f'cvpmvsnet{scan_number(scan):03d}_l3.ply'),
            result['points'], result['colors'], overwrite=True)
        _write_mesh(osp.join(round_dir, 'meshes', f'{scan}.ply'),
                    result['vertices'], result['faces'])
        _write_depth_folder(_depth_folder(round_dir, scan), depths)
        pixels = len(depths) * target.size[0] * target.size[1]
        labelled = int(sum((d > 0).sum() for d in depths.values()))
        summary.update(skipped=False,
                       num_points=int(len(result['points'])),
                       mesh_vertices=int(len(result['vertices'])),
                       mesh_faces=int(len(result['faces'])),
                       labelled_pixels=labelled, pixels=pixels,
                       accuracy=_scan_accuracy(target, scan, depths))
    atomic_write_json(_scan_summary_file(round_dir, scan), summary)
    return summary


def round_is_complete(round_dir: str) -> bool:
    """Whether a round directory holds a finished round."""
    return osp.isfile(osp.join(round_dir, SUMMARY_FILE))


def check_round_dir(round_dir: str, meta: dict) -> None:
    """Refuse a round directory written for other data, or a finished one.

    Raises:
        FileExistsError: The round is complete (its labels are never
            overwritten); names the file and the fix.
        ValueError: ``meta.json`` describes other scans, views, size,
            cameras or depth range; names the fields that differ.
    """
    if round_is_complete(round_dir):
        raise FileExistsError(
            f'round directory {round_dir!r} holds a finished round '
            f'({SUMMARY_FILE}); its pseudo labels are never overwritten: '
            'choose the next --round or another --out')
    path = osp.join(round_dir, META_FILE)
    if not osp.isfile(path):
        return
    with open(path, encoding='utf-8') as handle:
        existing = json.load(handle)
    differ = sorted(key for key in meta if existing.get(key) != meta[key])
    if differ:
        raise ValueError(
            f'round directory {round_dir!r} was written for other training '
            f'data: {", ".join(differ)} differ ({path}); use a new --out '
            'or --round for this data set and resolution')


def _summarise(round_dir: str, target: RenderTarget,
               settings: PseudoLabelSettings) -> dict:
    """``summary.json`` from the per-scan files.

    ``coverage`` is the labelled fraction of all training pixels; where the
    training data have ground truth, ``accuracy`` holds ``gt_coverage``
    (labelled fraction of the ground-truth pixels), ``mae`` and
    ``within_1pct_range`` over the pixels with both, and ``without_gt``
    (the fraction of the labels where there is no ground truth, e.g. on a
    blank background).
    """
    scans = []
    for scan in target.scans:
        with open(_scan_summary_file(round_dir, scan),
                  encoding='utf-8') as handle:
            scans.append(json.load(handle))
    labelled = [s for s in scans if not s['skipped']]
    pixels = len(target.scans) * len(target.views) * \
        target.size[0] * target.size[1]
    labelled_pixels = sum(s['labelled_pixels'] for s in labelled)
    summary = dict(
        scans=scans, settings=asdict(settings),
        skipped=[s['scan'] for s in scans if s['skipped']],
        coverage=labelled_pixels / pixels)
    accuracies = [s['accuracy'] for s in labelled if s.get('accuracy')]
    if accuracies and len(accuracies) == len(labelled):
        total = {k: sum(a[k] for a in accuracies) for k in accuracies[0]}
        both = max(total['labelled_gt_pixels'], 1)
        summary['accuracy'] = dict(
            gt_coverage=total['labelled_gt_pixels'] /
            max(total['gt_pixels'], 1),
            mae=total['abs_error_sum'] / both,
            within_1pct_range=total['within_1pct'] / both,
            without_gt=1 - total['labelled_gt_pixels'] /
            max(labelled_pixels, 1))
    return summary


def make_pseudo_depth(model, dataset, target: RenderTarget, round_dir: str,
                      settings: PseudoLabelSettings, *, rank: int = 0,
                      world_size: int = 1, progress: bool = True,
                      extra_meta: Optional[dict] = None) -> Optional[dict]:
    """One pseudo-labelling round (see the module docstring).

    Args:
        model: The network (:func:`mmext.apis.init_model`), run by
            :func:`mmext.mvs.iter_scan_views`.
        dataset: High-resolution items of the training scans, every view
            as reference (a test-split :class:`mmext.DTUMVSDataset`), with
            ``scans`` and ``pairs``.
        target (RenderTarget): The labels' scans, views, cameras and size.
        round_dir (str): The round directory.
        settings (PseudoLabelSettings): Thresholds.
        rank (int): This process's rank.
        world_size (int): Processes; rank ``r`` labels the scans ``r, r +
            world_size, ...`` of ``target.scans``.
        progress (bool): Show progress bars.
        extra_meta (dict, optional): Recorded in ``meta.json`` too (e.g.
            the checkpoint), not compared.

    Returns:
        dict or None: ``summary.json``'s content on rank 0 (None on other
        ranks).

    Raises:
        FileExistsError, ValueError: See :func:`check_round_dir`.
        ValueError: The dataset lacks a scan of ``target``.
    """
    import torch.distributed as dist
    from torch.utils.data import Subset

    from .predict import iter_scan_views
    meta = target.meta()
    check_round_dir(round_dir, meta)
    missing = sorted(set(target.scans) - set(dataset.scans))
    if missing:
        raise ValueError(f'pseudo_label.data: the high-resolution data set '
                         f'has no scans {missing} of the training data; '
                         'list the training scans in its scan list')
    if rank == 0:
        atomic_write_json(osp.join(round_dir, META_FILE),
                          dict(meta, **(extra_meta or {})))
    mine = [scan for i, scan in enumerate(target.scans)
            if i % world_size == rank
            and not osp.isfile(_scan_summary_file(round_dir, scan))]
    indices = [i for i in range(len(dataset))
               if str(dataset.scan_of(i)) in mine]
    for scan, views in iter_scan_views(model, Subset(dataset, indices),
                                       progress=progress):
        process_scan(scan, views, dataset.pairs, target, settings, round_dir)
    if world_size > 1 and dist.is_available() and dist.is_initialized():
        dist.barrier()
    if rank != 0:
        return None
    summary = _summarise(round_dir, target, settings)
    labelled = [s['scan'] for s in summary['scans'] if not s['skipped']]
    write_scan_list(osp.join(round_dir, SCAN_LIST_FILE), labelled)
    atomic_write_json(osp.join(round_dir, SUMMARY_FILE), summary)
    return summary
