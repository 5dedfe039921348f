"""Learning curves over seeds and the labels needed to reach a target."""
import pytest

from mmext.active_learning.curves import LearningCurve, labels_to_reach


def test_mean_and_std_over_seeds():
    curve = LearningCurve([10, 20, 30], [[0.2, 0.4, 0.5], [0.4, 0.4, 0.7]])
    assert curve.mean == pytest.approx([0.3, 0.4, 0.6])
    assert curve.std == pytest.approx([0.1414213562, 0.0, 0.1414213562])
    assert LearningCurve([1], [[0.5]]).std == [0.0]


def test_labels_to_reach_interpolates_the_first_crossing():
    counts, values = [100, 200, 300, 400], [0.40, 0.50, 0.45, 0.70]
    # 0.45 is first crossed between 100 and 200: 100 + 0.5 * 100.
    assert labels_to_reach(counts, values, 0.45) == pytest.approx(150.0)
    assert labels_to_reach(counts, values, 0.60) == pytest.approx(
        300 + (0.60 - 0.45) / 0.25 * 100)
    assert labels_to_reach(counts, values, 0.30) == 100.0
    assert labels_to_reach(counts, values, 0.80) is None
