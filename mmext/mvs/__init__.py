"""Multi-view stereo beyond the network: camera geometry, depth-map fusion
into point clouds, PLY files and the prediction-and-fusion pipeline of
``tools/mvs/`` (the network is :class:`mmext.CVPMVSNet` in
``mmext.models.mvs``; the DTU point-cloud metrics are in
:mod:`mmext.evaluation.point_cloud`).

Plain numpy functions with explicit arguments; nothing here is registered.
The pipeline (:mod:`.predict`) runs models and needs torch; it is imported
on first use of one of its names, so that the numpy parts (``geometry``,
``fusion``, ``ply``) load without torch, as the Shapes-MVS generator needs.
"""
from .fusion import (ViewPrediction, check_geometric_consistency, fuse_scan,
                     fuse_view, sample_depth)
from .geometry import (backproject_depth, camera_centre, look_at, pixel_grid,
                       project_points, unproject_pixels)
from .ply import read_point_cloud, write_point_cloud

#: The names of :mod:`.predict`, imported when first asked for.
_PREDICT = ('check_outputs', 'fuse_and_save', 'fused_ply_name',
            'iter_scan_views', 'predict_views', 'view_prediction')

__all__ = [
    'ViewPrediction', 'check_geometric_consistency', 'fuse_scan',
    'fuse_view', 'sample_depth', 'backproject_depth', 'camera_centre',
    'look_at', 'pixel_grid', 'project_points', 'unproject_pixels',
    'read_point_cloud', 'write_point_cloud', *_PREDICT
]


def __getattr__(name: str):
    """``mmext.mvs.<name>`` of the torch-based pipeline (:mod:`.predict`)."""
    if name in _PREDICT:
        from . import predict
        return getattr(predict, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
