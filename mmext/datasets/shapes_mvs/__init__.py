"""Shapes-MVS: mmext's synthetic stand-in for DTU, in real on-disk formats.

DTU (Aanaes et al., "Large-Scale Data for Multiple-View Stereopsis", IJCV
2016) cannot be downloaded here, so this generator writes procedural
multi-view scenes in the layout that the CVP-MVSNet reference reads (Yang
et al., "Cost Volume Pyramid Based Depth Inference for Multi-View Stereo",
CVPR 2020, public repository JiayuYANG/CVP-MVSNet; paths from
:class:`mmext.datasets.dtu_io.DTULayout`), so the same reader serves both.

Scenes are textured primitives (boxes, spheres, cylinders, cones) on a
textured ground square, in millimetres like DTU; the colour is a solid
texture of the 3-D point times Lambertian shading under 7 directional
lights, so views agree photometrically. Cameras (rings around the scene,
shared by every scan as in DTU) and one depth range (DTU's 425 + 256 x 2.5
mm) hold for all scans. Rendering is Embree ray casting: depth is the
camera-frame ``z`` of the first hit (0 = no surface), colour is 2x2
supersampled. Only numpy, trimesh/embreex, plyfile, cv2 and tqdm are used
(no torch); same seed, same bytes. See ``docs/shapes.md``.

Output layout (three DTU roots, as the reference's separate 128x160
training, 1200x1600 test and 1200x1600 pseudo-labelling roots, each with
cameras for its image size)::

    OUT/
      meta.json                          generator + version, preset, seed,
                                         sizes, depth range, lights, scans,
                                         per-scan objects / extent_mm
      train/                             "dtu-train-128": train scans
        scan_list_train.txt              scan1 .. scanN
        Cameras/{view:08d}_cam.txt       train-size K, shared depth range
        Cameras/pair.txt                 10 best source views per view
        Rectified/{scan}_train/rect_{view+1:03d}_{light}_r5000.png
                                         lights 0-6, train size, RGB
        Depths/{scan}_train/depth_map_{view:04d}.pfm   float32, 0 = invalid
      test/                              "dtu-test-1200": other scenes
        scan_list_test.txt               scanN+1 ..
        Cameras/{view:08d}_cam.txt       same poses, K scaled to test size
        Cameras/pair.txt
        Rectified/{scan}/rect_{view+1:03d}_3_r5000.png    light 3 only
        Depths/{scan}/depth_map_{view:04d}.pfm           test-size depth
        Points/stl/stl{number:03d}_total.ply             ground-truth points
      train_hires/                       "dtu-train-nodepth-1200": the train
                                         scans in the test layout
        scan_list_test.txt               scan1 .. scanN
        Cameras/                         as test/Cameras
        Rectified/{scan}/rect_{view+1:03d}_3_r5000.png    light 3, test size

This package is not imported by ``mmext.datasets``; import it as
``mmext.datasets.shapes_mvs``.
"""
from .generate import (META_FILE, NUM_DEPTH_INTERVALS, ROOTS,
                       check_depth_range, check_out_dir,
                       generate_shapes_mvs, read_meta, scan_names)
from .presets import (GENERATOR_NAME, GENERATOR_VERSION, PRESETS,
                      ShapesMVSPreset, get_preset)
from .render import LIGHTS, TEST_LIGHT

__all__ = [
    'generate_shapes_mvs', 'check_out_dir', 'read_meta', 'scan_names',
    'check_depth_range', 'META_FILE', 'ROOTS', 'NUM_DEPTH_INTERVALS',
    'PRESETS', 'ShapesMVSPreset', 'get_preset', 'GENERATOR_NAME',
    'GENERATOR_VERSION', 'LIGHTS', 'TEST_LIGHT'
]
