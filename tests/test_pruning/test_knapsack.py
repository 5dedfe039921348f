"""latency_knapsack against brute force on small random instances."""
import itertools
import math
from typing import List, Sequence

import numpy as np
import pytest

from mmext.pruning.knapsack import (knapsack_cost, knapsack_value,
                                    latency_knapsack)


def brute_force(values: List[np.ndarray], costs: List[np.ndarray],
                budget: float) -> float:
    """Best summed value over every choice with summed cost <= budget."""
    combos = np.array(
        list(itertools.product(*[range(len(v)) for v in values])))
    total_v = sum(v[combos[:, g]] for g, v in enumerate(values))
    total_c = sum(c[combos[:, g]] for g, c in enumerate(costs))
    return float(total_v[total_c <= budget].max())


def random_instance(rng: np.random.Generator, integer: bool):
    """Random values >= 0 and costs (negative, non-monotone, some inf)."""
    sizes = rng.integers(2, 7, size=rng.integers(3, 6))
    values = [rng.random(k) * 10 for k in sizes]
    if integer:
        costs = [rng.integers(-5, 20, k).astype(float) for k in sizes]
    else:
        costs = [rng.normal(4.0, 5.0, k) for k in sizes]
    for row in costs:
        if rng.random() < 0.3:
            row[rng.integers(row.size)] = math.inf
    lowest = sum(row.min() for row in costs)
    highest = sum(row[np.isfinite(row)].max() for row in costs)
    budget = lowest + rng.random() * (highest - lowest)
    return values, costs, float(math.floor(budget)) if integer else budget


def check_feasible(costs: Sequence[np.ndarray], choice: List[int],
                   budget: float) -> None:
    assert all(isinstance(k, int) for k in choice)
    assert len(choice) == len(costs)
    assert knapsack_cost(costs, choice) <= budget + 1e-9 * abs(budget)


@pytest.mark.parametrize('seed', range(4))
def test_integer_costs_exact(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        values, costs, budget = random_instance(rng, integer=True)
        choice = latency_knapsack(values, costs, budget)
        check_feasible(costs, choice, budget)
        assert knapsack_value(values, choice) == pytest.approx(
            brute_force(values, costs, budget), rel=1e-12, abs=1e-12)


def test_integer_costs_exact_on_coarse_grid():
    # Multiples of 1000: solved exactly on the gcd grid.
    rng = np.random.default_rng(10)
    for _ in range(20):
        values, costs, budget = random_instance(rng, integer=True)
        costs = [row * 1000 for row in costs]
        budget *= 1000
        choice = latency_knapsack(values, costs, budget)
        check_feasible(costs, choice, budget)
        assert knapsack_value(values, choice) == pytest.approx(
            brute_force(values, costs, budget), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize('seed', range(4))
def test_float_costs_near_optimal(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(40):
        values, costs, budget = random_instance(rng, integer=False)
        choice = latency_knapsack(values, costs, budget)
        check_feasible(costs, choice, budget)
        best = brute_force(values, costs, budget)
        assert knapsack_value(values, choice) >= 0.999 * best - 1e-12


def test_float_costs_tight_tolerance():
    rng = np.random.default_rng(7)
    for _ in range(20):
        values, costs, budget = random_instance(rng, integer=False)
        choice = latency_knapsack(values, costs, budget, rel_tol=1e-6)
        check_feasible(costs, choice, budget)
        best = brute_force(values, costs, budget)
        assert knapsack_value(values, choice) >= (1 - 1e-6) * best - 1e-12


def test_example_and_mixed_inputs():
    assert latency_knapsack([[0, 3, 4], [0, 2, 5]], [[0, 1, 2], [0, 1, 2]],
                            budget=3) == [1, 2]
    # numpy rows of different lengths; k = 0 forbidden in group 1.
    values = [np.array([0.0, 1.0]), np.array([0.0, 2.0, 2.5, 3.0])]
    costs = [np.array([0.0, 1.5]), np.array([math.inf, 1.0, 1.2, 3.0])]
    assert latency_knapsack(values, costs, 2.6) == [1, 1]
    assert latency_knapsack(values, costs, 2.75) == [1, 2]
    assert latency_knapsack([], [], 1.0) == []


def test_budget_above_everything_takes_max_values():
    rng = np.random.default_rng(3)
    for _ in range(10):
        values, costs, _ = random_instance(rng, integer=False)
        budget = sum(row[np.isfinite(row)].max() for row in costs) + 1
        choice = latency_knapsack(values, costs, budget)
        for g, k in enumerate(choice):
            allowed = np.isfinite(costs[g])
            assert values[g][k] == values[g][allowed].max()


def test_budget_equal_to_smallest_latency():
    costs = [[3.0, 1.0, 2.0], [-1.0, 0.5, math.inf]]
    values = [[1.0, 2.0, 3.0], [0.0, 5.0, 9.0]]
    assert latency_knapsack(values, costs, 0.0) == [1, 0]


def test_infeasible_budget_names_smallest_latency():
    costs = [[3.0, 1.25, 2.0], [-0.5, 0.5, math.inf], [math.inf, 2.0]]
    values = [[1.0, 2.0, 3.0], [0.0, 5.0, 9.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match='2.75') as info:
        latency_knapsack(values, costs, 2.5)
    assert '2.5' in str(info.value)


def test_group_without_finite_cost():
    with pytest.raises(ValueError, match='group 1'):
        latency_knapsack([[0, 1], [0, 1]], [[0, 1], [math.inf] * 2], 5)


def test_shape_mismatch_names_group():
    with pytest.raises(ValueError, match='group 2'):
        latency_knapsack([[0, 1], [0, 1], [0, 1, 2]],
                         [[0, 1], [0, 1], [0, 1]], 5)
    with pytest.raises(ValueError, match='groups'):
        latency_knapsack([[0, 1]], [[0, 1], [0, 1]], 5)


def test_nan_rejected():
    with pytest.raises(ValueError, match='NaN'):
        latency_knapsack([[0, math.nan]], [[0, 1]], 5)
    with pytest.raises(ValueError, match='NaN'):
        latency_knapsack([[0, 1]], [[0, math.nan]], 5)
    with pytest.raises(ValueError, match='NaN'):
        latency_knapsack([[0, 1]], [[0, 1]], math.nan)


def test_grid_limit_warns_and_stays_feasible():
    values, costs = [[0.0, 1.0], [0.0, 1.0]], [[0.0, 0.6], [0.0, 0.6]]
    with pytest.warns(UserWarning, match='within'):
        choice = latency_knapsack(values, costs, 1.0, max_cells=2)
    check_feasible(costs, choice, 1.0)
    assert knapsack_value(values, choice) == 1.0
