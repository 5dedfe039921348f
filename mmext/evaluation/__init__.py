"""mmext evaluation: metrics registered in the ``mmext`` scope, and the
plain-numpy panoptic quality they build on."""
from .metrics import *  # noqa: F401,F403
from .panoptic_quality import (PQStats, category_table, merge_pq_stats,
                               panoptic_quality, sample_pq_stats,
                               summarize_pq)

__all__ = [
    'PQStats', 'category_table', 'merge_pq_stats', 'panoptic_quality',
    'sample_pq_stats', 'summarize_pq'
]
