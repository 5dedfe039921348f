"""Learning curves of active-learning runs: the metric against the number
of labelled images, averaged over seeds, and the labels a method needs to
reach a reference's final metric (the labelling-cost comparison of Elezi
et al., CVPR 2022, arXiv 2106.11921, Sec. 4).

Plain Python: the runs are read from the ``pool_state/final.json`` files
that :class:`mmext.ActiveLearningLoop` writes.
"""
import json
import statistics
from dataclasses import dataclass
from typing import List, Optional, Sequence


@dataclass
class LearningCurve:
    """One method's curve over seeds.

    Attributes:
        num_labelled: ``[T]`` labelled images at each cycle.
        values: ``[S][T]`` the metric of each seed at each cycle.
    """
    num_labelled: List[int]
    values: List[List[float]]

    @property
    def mean(self) -> List[float]:
        """``[T]`` mean over seeds."""
        return [statistics.fmean(column) for column in zip(*self.values)]

    @property
    def std(self) -> List[float]:
        """``[T]`` sample standard deviation over seeds (0 for one)."""
        return [
            statistics.stdev(column) if len(column) > 1 else 0.0
            for column in zip(*self.values)
        ]


def read_run(state_path: str, metric: str) -> tuple:
    """``(num_labelled [T], values [T])`` of one finished run.

    Args:
        state_path: A run's ``pool_state/final.json``.
        metric: A validation metric key, e.g. ``'coco/bbox_mAP_50'``.

    Raises:
        ValueError: The run has no such metric (naming the keys it has).
    """
    with open(state_path, encoding='utf-8') as f:
        history = json.load(f)['history']
    missing = [h['cycle'] for h in history if metric not in h['metrics']]
    if missing:
        keys = sorted(history[0]['metrics']) if history else []
        raise ValueError(f'--metric {metric!r}: cycles {missing} of '
                         f'{state_path} have no such metric; it has {keys}')
    return ([h['num_labelled'] for h in history],
            [float(h['metrics'][metric]) for h in history])


def curve_of(state_paths: Sequence[str], metric: str) -> LearningCurve:
    """The curve of a method's seeds (their labelled counts must agree)."""
    runs = [read_run(path, metric) for path in state_paths]
    counts = runs[0][0]
    for path, (other, _) in zip(state_paths, runs):
        if other != counts:
            raise ValueError(f'{path}: labelled counts {other} differ from '
                             f'{counts} of {state_paths[0]}; compare runs '
                             'of the same schedule')
    return LearningCurve(list(counts), [values for _, values in runs])


def labels_to_reach(num_labelled: Sequence[float], values: Sequence[float],
                    target: float) -> Optional[float]:
    """Labelled images at which a curve first reaches ``target``.

    Linear interpolation between consecutive cycles; the first point counts
    if it is already at or above the target.

    Returns:
        The interpolated count, or None if the curve never reaches it.
    """
    points = list(zip(num_labelled, values))
    if points and points[0][1] >= target:
        return float(points[0][0])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 < target <= y1:
            return x0 + (target - y0) / (y1 - y0) * (x1 - x0)
    return None
