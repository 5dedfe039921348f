"""``mmext.LVISMetric``: mmdet's LVIS metric, runnable with numpy >= 1.24.

The ``lvis`` package on PyPI (0.5.3, what ``pip install lvis`` gives)
accumulates its precision arrays with ``np.float``, an alias numpy removed
in 1.24, so mmdet's ``LVISMetric`` fails at the end of evaluation. This
subclass restores the alias while it computes (and only then). Used by
RIO's configs (Chang et al., "Image-Level or Object-Level? A Tale of Two
Resampling Strategies for Long-Tailed Detection", ICML 2021, arXiv
2104.05702), whose results are LVIS AP, APr, APc, APf.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List

import numpy as np
from mmdet.evaluation.metrics import LVISMetric as MMDetLVISMetric

from mmext.registry import METRICS


@contextmanager
def numpy_float_alias() -> Iterator[None]:
    """``np.float`` is ``float`` inside the block if numpy lacks it."""
    had_alias = 'float' in np.__dict__
    if not had_alias:
        np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if not had_alias:
            del np.float  # type: ignore[attr-defined]


@METRICS.register_module()
class LVISMetric(MMDetLVISMetric):
    """mmdet's ``LVISMetric`` (same arguments and results) that works with
    the PyPI ``lvis`` package on numpy >= 1.24."""

    def compute_metrics(self, results: List) -> Dict[str, float]:
        with numpy_float_alias():
            return super().compute_metrics(results)
