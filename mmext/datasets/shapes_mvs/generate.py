"""Generate a whole Shapes-MVS output directory, atomically.

:func:`generate_shapes_mvs` renders into a sibling ``OUT.tmp-XXXX``
directory and renames it to ``OUT`` only when everything is written (the
helpers of :mod:`mmext.datasets.shapes.output`), so an interrupted run
never leaves a partial data set under ``OUT``. An existing ``OUT`` is
replaced only if it is empty or a previous Shapes-MVS output (its
``meta.json`` names this generator).

Every scene draws from its own stream ``(seed, 'mvs/scene/<split>',
index)`` and the camera jitter from ``(seed, 'mvs/cameras')``
(:func:`~mmext.datasets.shapes.seeding.stream_rng`), so the bytes of one
scan do not depend on the others.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmext.mvs.geometry import project_points
from mmext.mvs.ply import write_point_cloud

from ..dtu_io import (DTULayout, MVSCamera, scan_number, write_cam_txt,
                      write_pair_txt, write_pfm, write_scan_list)
from ..shapes import output
from ..shapes.fileio import dump_json, write_png_rgb
from ..shapes.output import META_FILE
from ..shapes.seeding import stream_rng
from .cameras import camera_rig, intrinsic_matrix, select_pairs
from .points import thin_points
from .presets import (GENERATOR_NAME, GENERATOR_VERSION, ShapesMVSPreset,
                      get_preset)
from .render import LIGHTS, TEST_LIGHT, SceneRenderer
from .scene import Scene, content_box, random_scene

#: The DTU roots under ``OUT`` (the reference reads training data and test
#: data from separate roots, each with cameras for its image size).
#: ``train_hires`` holds the training scans at the test resolution under
#: light 3 in the test layout (no depth), the input of the self-supervised
#: recipe's high-resolution pseudo-labelling; its ``scan_list_test.txt``
#: lists the training scans, as the reference's pseudo-labelling root does.
ROOTS = dict(train='train', test='test', train_hires='train_hires')
#: ``depth_max = depth_min + NUM_DEPTH_INTERVALS * depth_interval``.
NUM_DEPTH_INTERVALS = 256

Tick = Callable[[int], None]


def scan_names(preset: ShapesMVSPreset) -> Dict[str, List[str]]:
    """Train scans ``scan1 .. scanN``, then the test scans ``scanN+1 ..``
    (different scenes, so never the same number)."""
    train = [f'scan{k + 1}' for k in range(preset.num_train_scans)]
    test = [f'scan{preset.num_train_scans + k + 1}'
            for k in range(preset.num_test_scans)]
    return dict(train=train, test=test)


def check_depth_range(preset: ShapesMVSPreset,
                      extrinsics: Sequence[np.ndarray],
                      intrinsic: np.ndarray) -> Tuple[float, float]:
    """Check that the shared depth range holds every possible scene.

    Depth is linear in the world point, so over the content box
    (:func:`~.scene.content_box`) it is extreme at a corner; the range
    ``(depth_min, depth_max)`` must strictly contain those extremes for
    every camera (the reference trains on ``depth > depth_min``).

    Returns:
        ``(nearest, farthest)`` corner depth over all cameras.

    Raises:
        ValueError: The preset's geometry leaves the range; the message
            names the preset fields to change.
    """
    corners = content_box(preset)
    depths = np.concatenate(
        [project_points(corners, intrinsic, e)[1] for e in extrinsics])
    near, far = float(depths.min()), float(depths.max())
    if not preset.depth_min < near or not far < preset.depth_max:
        raise ValueError(
            f'preset: {preset.name!r} puts scene content at depths '
            f'{near:.1f}..{far:.1f} mm, outside (depth_min, depth_min + '
            f'{NUM_DEPTH_INTERVALS} * depth_interval) = ({preset.depth_min}, '
            f'{preset.depth_max}); change depth_min / depth_interval or '
            'camera_distance / ground_half_size / object_size')
    return near, far


def _cameras(preset: ShapesMVSPreset, extrinsics: Sequence[np.ndarray],
             scale: int) -> List[MVSCamera]:
    intrinsic = intrinsic_matrix(preset.train_size, preset.horizontal_fov,
                                 scale)
    return [MVSCamera(e, intrinsic, preset.depth_min, preset.depth_interval)
            for e in extrinsics]


def _write_root(layout: DTULayout, split: str, cameras: Sequence[MVSCamera],
                pairs: Dict, scans: Sequence[str]) -> None:
    """Cameras, ``pair.txt`` and the scan list of one root."""
    for view, camera in enumerate(cameras):
        write_cam_txt(layout.cam_file(view), camera)
    write_pair_txt(layout.pair_file(), pairs)
    write_scan_list(layout.scan_list(split), scans)


def _extent(points: np.ndarray) -> float:
    """Bounding-box diagonal (mm)."""
    if not len(points):
        return 0.0
    return float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))


def _render_scan(layout: DTULayout, split: str, scan: str, scene: Scene,
                 cameras: Sequence[MVSCamera], preset: ShapesMVSPreset,
                 tick: Tick, with_depth: bool = True) -> Dict:
    """Render and write every view of one scan; returns its meta entry.

    Train scans: ``train_size`` images under all :data:`LIGHTS` and depth
    maps. Test scans: ``test_size`` images under light 3, depth maps and
    the thinned ground-truth points. ``with_depth=False`` (the
    ``train_hires`` root): test-split images only.
    """
    renderer = SceneRenderer(scene)
    train = split == 'train'
    size = preset.train_size if train else preset.test_size
    light_ids = list(range(len(LIGHTS))) if train else [TEST_LIGHT]
    lights = [LIGHTS[i] for i in light_ids]
    points, colors = [], []
    valid_pixels = 0
    near, far = np.inf, -np.inf
    for view, camera in enumerate(cameras):
        result = renderer.render(camera.intrinsic, camera.extrinsic, size,
                                 lights, preset.supersample)
        valid = result.depth > 0
        if valid.any():
            near = min(near, float(result.depth[valid].min()))
            far = max(far, float(result.depth[valid].max()))
            # guaranteed by check_depth_range; a failure is a bug here
            if not preset.depth_min < near <= far < preset.depth_max:
                raise RuntimeError(
                    f'{scan} view {view}: depths {near}..{far} leave the '
                    f'range ({preset.depth_min}, {preset.depth_max})')
        valid_pixels += int(valid.sum())
        for light, image in zip(light_ids, result.images):
            write_png_rgb(layout.image(split, scan, view, light), image)
        if not with_depth:
            tick(1)
            continue
        write_pfm(layout.depth_file(scan, view, split), result.depth)
        points.append(result.points)
        if not train:
            colors.append(result.images[0][valid])
        tick(1)
    if not with_depth:
        return {}
    points = np.concatenate(points)
    entry = dict(split=split,
                 objects=[s.describe() for s in scene.surfaces[1:]],
                 valid_fraction=round(
                     valid_pixels / (len(cameras) * size[0] * size[1]), 4),
                 depth_range=[round(near, 3), round(far, 3)]
                 if valid_pixels else None)
    if not train:
        keep = thin_points(points, preset.point_spacing)
        points = points[keep]
        write_point_cloud(layout.points_file(scan_number(scan)), points,
                          np.concatenate(colors)[keep],
                          comments=[f'{GENERATOR_NAME} {scan} ground truth'])
        entry['num_points'] = int(len(points))
    # Train: extent of all depth back-projections; test: of the GT points.
    entry['extent_mm'] = round(_extent(points), 3)
    return entry


def _layout_templates() -> Dict[str, str]:
    """Relative path templates, for ``meta.json``."""
    return dict(
        cameras='{root}/Cameras/{view:08d}_cam.txt',
        pairs='{root}/Cameras/pair.txt',
        scan_list='{root}/scan_list_{split}.txt',
        train_images='train/Rectified/{scan}_train/'
        'rect_{view+1:03d}_{light}_r5000.png',
        train_depths='train/Depths/{scan}_train/depth_map_{view:04d}.pfm',
        test_images='test/Rectified/{scan}/rect_{view+1:03d}_3_r5000.png',
        test_depths='test/Depths/{scan}/depth_map_{view:04d}.pfm',
        train_hires_images='train_hires/Rectified/{scan}/'
        'rect_{view+1:03d}_3_r5000.png',
        points='test/Points/stl/stl{number:03d}_total.ply')


def _generate_into(out: str, preset: ShapesMVSPreset, seed: int,
                   progress: bool) -> Dict:
    """Write every file of one output into ``out`` (an empty directory)."""
    from tqdm import tqdm
    extrinsics = camera_rig(preset, stream_rng(seed, 'mvs/cameras'))
    train_cams = _cameras(preset, extrinsics, 1)
    test_cams = _cameras(preset, extrinsics, preset.test_scale)
    near, far = check_depth_range(preset, extrinsics,
                                  train_cams[0].intrinsic)
    pairs = select_pairs(extrinsics)
    scans = scan_names(preset)
    layouts = {name: DTULayout(osp.join(out, root))
               for name, root in ROOTS.items()}
    _write_root(layouts['train'], 'train', train_cams, pairs, scans['train'])
    _write_root(layouts['test'], 'test', test_cams, pairs, scans['test'])
    _write_root(layouts['train_hires'], 'test', test_cams, pairs,
                scans['train'])
    per_scan = {}
    total = len(extrinsics) * (2 * len(scans['train']) + len(scans['test']))
    with tqdm(total=total, disable=not progress, unit='view',
              desc=f'Shapes-MVS {preset.name}', mininterval=1.0) as bar:
        for split, cams in (('train', train_cams), ('test', test_cams)):
            for index, scan in enumerate(scans[split]):
                scene = random_scene(
                    preset, stream_rng(seed, f'mvs/scene/{split}', index))
                per_scan[scan] = _render_scan(layouts[split], split, scan,
                                              scene, cams, preset,
                                              bar.update)
                if split == 'train':
                    _render_scan(layouts['train_hires'], 'test', scan, scene,
                                 test_cams, preset, bar.update,
                                 with_depth=False)
    meta = dict(
        generator=GENERATOR_NAME, version=GENERATOR_VERSION,
        preset=preset.name, seed=seed, preset_params=preset.to_dict(),
        roots=dict(ROOTS), scans=scans, num_views=len(extrinsics),
        sizes=dict(train=list(preset.train_size),
                   test=list(preset.test_size)),
        depth=dict(min=preset.depth_min, interval=preset.depth_interval,
                   num_intervals=NUM_DEPTH_INTERVALS, max=preset.depth_max,
                   content_bounds=[round(near, 3), round(far, 3)]),
        lights=dict(count=len(LIGHTS), test=TEST_LIGHT,
                    params=[[light.azimuth, light.elevation, light.intensity,
                             light.ambient] for light in LIGHTS]),
        per_scan=per_scan, layout=_layout_templates())
    dump_json(osp.join(out, META_FILE), meta, indent=1)
    return meta


def read_meta(out_dir: str) -> Optional[Dict]:
    """``meta.json`` of a Shapes-MVS output, or ``None`` if ``out_dir`` is
    not one (no file, unreadable, or written by another generator)."""
    return output.read_meta(out_dir, GENERATOR_NAME)


def check_out_dir(out_dir: str) -> None:
    """Refuse an output path that would lose someone's data.

    Raises:
        ValueError: ``out_dir`` is an existing file, or a non-empty
            directory that is not a previous Shapes-MVS output. The message
            starts with ``out:`` and says how to fix it.
    """
    output.check_out_dir(out_dir, GENERATOR_NAME, 'Shapes-MVS')


def generate_shapes_mvs(preset: str, out_dir: str, seed: int = 0,
                        progress: bool = False) -> Dict:
    """Generate a Shapes-MVS output directory (two DTU roots).

    Args:
        preset: Name of a preset in :data:`~.presets.PRESETS`.
        out_dir: Output directory: must not exist, be empty, or hold a
            previous Shapes-MVS output (which is replaced).
        seed: Non-negative global seed; same arguments give the same bytes.
        progress: Show a tqdm progress bar.

    Returns:
        The ``meta.json`` content plus ``out_dir`` (absolute).

    Raises:
        ValueError: Unknown preset, negative seed or unusable ``out_dir``;
            the message names the argument.
    """
    spec = get_preset(preset)
    seed = output.check_seed(seed)
    return output.write_output(
        out_dir, GENERATOR_NAME, 'Shapes-MVS',
        lambda tmp: _generate_into(tmp, spec, seed, progress))
