# Copyright (c) mmext contributors. All rights reserved.
"""Render a (fused, coloured) point cloud to a picture, optionally next to
the ground-truth cloud.

Usage::

    python tools/mvs/render_point_cloud.py PLY --out PNG [--gt GT_PLY] \\
        [--camera CAM_TXT] [--size H W] [--up z] [--azimuth -60] \\
        [--elevation 30] [--fov 40] [--point-size 2]

The points are projected with a pinhole camera and splatted as small
squares, nearest first, into a z-buffer
(:func:`mmext.visualization.point_cloud_render.render_point_cloud`).
The camera is a DTU ``cam.txt`` (``--camera``; its intrinsics must belong
to a picture of ``--size``, by default twice the principal point), or one
that looks at the cloud's centre from an oblique direction
(:func:`~mmext.visualization.point_cloud_render.orbit_camera`: azimuth and
elevation about the world's ``--up`` axis; ``z`` for Shapes-MVS, ``-y`` for
DTU). With ``--gt`` the ground truth is rendered by the same camera (framed
on the ground truth) to the right of the prediction. Clouds without colour
are shaded by depth.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Render a point cloud (PLY) to a picture')
    parser.add_argument('ply', help='point cloud to render')
    parser.add_argument('--out', required=True,
                        help='output picture (PNG, JPEG, ...)')
    parser.add_argument('--gt', default=None,
                        help='ground-truth cloud, rendered to the right')
    parser.add_argument('--camera', default=None,
                        help="a DTU cam.txt (default: an oblique camera "
                        "looking at the cloud's centre)")
    parser.add_argument('--size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='picture size (default: 480 640, or twice '
                        "the --camera's principal point)")
    parser.add_argument('--up', default='z',
                        help="the world's up axis for the default camera: "
                        'x, y, z, -x, -y or -z (default: %(default)s)')
    parser.add_argument('--azimuth', type=float, default=-60.0,
                        help='degrees about --up (default: %(default)s)')
    parser.add_argument('--elevation', type=float, default=30.0,
                        help='degrees above the horizon (default: '
                        '%(default)s)')
    parser.add_argument('--fov', type=float, default=40.0,
                        help='field of view of the narrower side, degrees')
    parser.add_argument('--point-size', type=int, default=2,
                        help='side of each point square, pixels')
    return parser.parse_args(argv)


def camera_of(args: argparse.Namespace, points):
    """``(K, E, (H, W))`` of the command line for ``points`` (the cloud
    the default camera frames)."""
    from mmext.visualization.point_cloud_render import (
        cloud_centre_and_radius, orbit_camera)
    if args.camera is not None:
        from mmext.datasets.dtu_io import read_cam_txt
        camera = read_cam_txt(args.camera)
        intrinsic = camera.intrinsic
        size = args.size or (int(round(2 * intrinsic[1, 2])),
                             int(round(2 * intrinsic[0, 2])))
        return intrinsic, camera.extrinsic, tuple(size)
    size = tuple(args.size or (480, 640))
    centre, radius = cloud_centre_and_radius(points)
    intrinsic, extrinsic = orbit_camera(
        centre, radius, size, up=args.up, azimuth=args.azimuth,
        elevation=args.elevation, fov=args.fov)
    return intrinsic, extrinsic, size


def run(args: argparse.Namespace):
    """Render and write the picture; returns it (uint8 [H, W, 3] RGB)."""
    from mmext.mvs import read_point_cloud
    from mmext.visualization.point_cloud_render import (render_point_cloud,
                                                        save_rgb,
                                                        side_by_side)
    clouds = [read_point_cloud(args.ply)]
    if args.gt is not None:
        clouds.append(read_point_cloud(args.gt))
    # The ground truth, when given, frames the picture: a prediction's
    # stray points do not move the camera.
    intrinsic, extrinsic, size = camera_of(args, clouds[-1][0])
    pictures = [
        render_point_cloud(points, colors, intrinsic, extrinsic, size,
                           point_size=args.point_size)[0]
        for points, colors in clouds
    ]
    picture = side_by_side(pictures) if len(pictures) > 1 else pictures[0]
    save_rgb(args.out, picture)
    names = ' | '.join(osp.basename(p) for p in [args.ply, args.gt] if p)
    print(f'{names} ({", ".join(str(len(c[0])) for c in clouds)} points) '
          f'-> {args.out}')
    return picture


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (FileNotFoundError, ValueError, KeyError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
