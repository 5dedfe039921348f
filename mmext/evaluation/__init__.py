"""mmext evaluation: metrics registered in the ``mmext`` scope, and the
plain-numpy panoptic quality and DTU point-cloud metrics they build on."""
from .metrics import *  # noqa: F401,F403
from .panoptic_quality import (PQStats, category_table, merge_pq_stats,
                               panoptic_quality, sample_pq_stats,
                               summarize_pq)
from .point_cloud import nearest_distances, point_cloud_metrics, thin_points

__all__ = [
    'PQStats', 'category_table', 'merge_pq_stats', 'panoptic_quality',
    'sample_pq_stats', 'summarize_pq', 'nearest_distances',
    'point_cloud_metrics', 'thin_points'
]
