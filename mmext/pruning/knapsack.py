"""Multiple-choice latency knapsack for latency-aware structural pruning.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv:2110.10811 / arXiv:2210.06659) prunes a network by
choosing, for every layer group ``g``, how many of its most important
channel blocks ``k`` to keep. Keeping ``k`` blocks retains the saliency
``values[g][k]`` and costs the latency ``costs[g][k]``; the pruned network
maximises the summed saliency under a latency budget. That is a
multiple-choice knapsack: exactly one choice per group.

:func:`latency_knapsack` solves it by a dynamic programme over a
discretised latency axis:

* Costs are shifted per group by their smallest finite cost; the budget
  minus the sum of those minima becomes the capacity, so negative and
  non-monotone latency curves need no special care.
* Integer costs (and budget) are solved exactly on the grid of their
  greatest common divisor when the table fits ``max_cells``.
* Real costs are rounded *down* to a grid of step ``delta``. That problem
  is a relaxation: its optimum bounds the true optimum from above, and so
  does the linear-programming relaxation (every group moved up its convex
  hull, steepest latency-saliency segment first). The grid table also
  yields, for every smaller capacity, a candidate whose *real* cost is
  checked against the budget; the best feasible candidate (or the LP's
  integer part), improved greedily with the leftover latency, is the
  incumbent. The grid is halved until the incumbent is within ``rel_tol``
  of the tighter bound (a certified 0.1 % by default) or the table would
  exceed ``max_cells``; then the best feasible solution is returned with a
  warning stating the certified gap.

The returned choice is always feasible for the real costs.
"""
import math
import warnings
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['latency_knapsack', 'knapsack_value', 'knapsack_cost']

Row = Union[Sequence[float], np.ndarray]
# One group's Pareto-optimal choices on a grid: (choice indices, integer
# weights in grid cells, values), each of shape (M,), weights ascending.
Items = Tuple[np.ndarray, np.ndarray, np.ndarray]

_START_CELLS = 4096
# Longest capacity axis, whatever max_cells allows (bounds the float64 rows
# of the programme to 32 MiB each).
_MAX_CAPACITY_CELLS = 2**22
# Largest integer below which float64 sums of integers are exact.
_EXACT_INT = 2.0**53


@dataclass
class _Problem:
    """A validated knapsack with per-group shifted costs.

    Attributes:
        values (np.ndarray): (G, Kmax) float64 saliencies, ``-inf`` where a
            choice is padding or forbidden.
        weights (np.ndarray): (G, Kmax) float64 costs minus the group's
            smallest finite cost, so ``>= 0``; ``inf`` where a choice is
            padding, forbidden, or alone exceeds ``capacity``.
        capacity (float): budget minus the sum of the smallest costs,
            ``>= 0``.
    """

    values: np.ndarray
    weights: np.ndarray
    capacity: float

    @property
    def num_groups(self) -> int:
        """Number of groups G."""
        return self.values.shape[0]

    def value(self, choice: np.ndarray) -> float:
        """Summed saliency of ``choice`` (G,) int."""
        return float(self.values[np.arange(self.num_groups), choice].sum())

    def weight(self, choice: np.ndarray) -> float:
        """Summed shifted cost of ``choice`` (G,) int."""
        return float(self.weights[np.arange(self.num_groups), choice].sum())


def _as_row(row: Row, name: str, group: int) -> np.ndarray:
    """One group's values or costs as a 1-D float64 array.

    Args:
        row (Sequence[float] | np.ndarray): The group's entries, (K+1,).
        name (str): ``'values'`` or ``'costs'``, for error messages.
        group (int): Group index, for error messages.

    Returns:
        np.ndarray: (K+1,) float64 copy.

    Raises:
        ValueError: If the row is not 1-D, is empty, or holds NaN.
    """
    arr = np.array(row, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f'group {group}: {name} must be a non-empty 1-D '
                         f'sequence, got shape {arr.shape}')
    if np.isnan(arr).any():
        raise ValueError(f'group {group}: {name} contains NaN')
    return arr


def _padded(values: Sequence[Row],
            costs: Sequence[Row]) -> Tuple[np.ndarray, np.ndarray]:
    """Validate the rows and pad them to (G, Kmax) matrices.

    A choice with cost ``inf`` or value ``-inf`` is forbidden: its value
    becomes ``-inf`` and its cost ``inf``, as for padding.

    Args:
        values (Sequence[Row]): G rows of saliencies.
        costs (Sequence[Row]): G rows of latencies, same shapes.

    Returns:
        Tuple[np.ndarray, np.ndarray]: (G, Kmax) values and costs.

    Raises:
        ValueError: On a shape mismatch, NaN, ``+inf`` saliency, ``-inf``
            latency, or a group without an allowed choice.
    """
    if len(values) != len(costs):
        raise ValueError(f'values has {len(values)} groups but costs has '
                         f'{len(costs)}')
    rows = []
    for g, (v_row, c_row) in enumerate(zip(values, costs)):
        v = _as_row(v_row, 'values', g)
        c = _as_row(c_row, 'costs', g)
        if v.shape != c.shape:
            raise ValueError(f'group {g}: values has {v.size} choices but '
                             f'costs has {c.size}')
        if np.isposinf(v).any():
            raise ValueError(f'group {g}: values contains +inf')
        if np.isneginf(c).any():
            raise ValueError(f'group {g}: costs contains -inf')
        allowed = np.isfinite(c) & np.isfinite(v)
        if not allowed.any():
            raise ValueError(f'group {g} has no allowed choice: every cost '
                             'is inf (or its value -inf)')
        rows.append((np.where(allowed, v, -np.inf),
                     np.where(allowed, c, np.inf)))
    width = max(v.size for v, _ in rows)
    vals = np.full((len(rows), width), -np.inf)
    cost = np.full((len(rows), width), np.inf)
    for g, (v, c) in enumerate(rows):
        vals[g, :v.size] = v
        cost[g, :c.size] = c
    return vals, cost


def _build_problem(values: Sequence[Row], costs: Sequence[Row],
                   budget: float) -> _Problem:
    """Validate the inputs and shift the costs by their group minima.

    Args:
        values (Sequence[Row]): G rows of saliencies.
        costs (Sequence[Row]): G rows of latencies.
        budget (float): Latency budget.

    Returns:
        _Problem: The shifted problem.

    Raises:
        ValueError: On invalid input or when even the cheapest choice of
            every group exceeds ``budget``.
    """
    budget = float(budget)
    if math.isnan(budget):
        raise ValueError('budget is NaN')
    vals, cost = _padded(values, costs)
    minima = cost.min(axis=1)
    lowest = float(minima.sum())
    capacity = budget - lowest
    tolerance = 1e-9 * max(abs(budget), float(np.abs(minima).sum()))
    if capacity < -tolerance:
        raise ValueError(
            f'latency budget {budget:.6g} is infeasible: the smallest '
            f'reachable latency (sum over groups of the cheapest choice) '
            f'is {lowest:.6g}')
    capacity = max(capacity, 0.0)
    weights = cost - minima[:, None]
    weights[weights > capacity] = np.inf
    return _Problem(np.where(np.isfinite(weights), vals, -np.inf), weights,
                    capacity)


def _greedy_max(problem: _Problem) -> np.ndarray:
    """Each group's best-value choice, the cheapest one among ties.

    Args:
        problem (_Problem): The problem.

    Returns:
        np.ndarray: (G,) int choice; feasible only if the budget allows.
    """
    best = problem.values.max(axis=1, keepdims=True)
    tied = problem.values == best
    return np.where(tied, problem.weights, np.inf).argmin(axis=1)


def _improve(problem: _Problem, choice: np.ndarray) -> np.ndarray:
    """Greedily upgrade groups while the leftover capacity allows.

    Each step applies the single-group change with the largest value gain
    that keeps the choice feasible; it stops when no change gains.

    Args:
        problem (_Problem): The problem.
        choice (np.ndarray): (G,) int feasible choice.

    Returns:
        np.ndarray: (G,) int feasible choice, value never lower.
    """
    choice = choice.copy()
    rows = np.arange(problem.num_groups)
    for _ in range(4 * problem.num_groups):
        held_w = problem.weights[rows, choice]
        slack = problem.capacity - float(held_w.sum())
        fits = problem.weights <= (held_w + slack)[:, None]
        gain = np.where(fits,
                        problem.values - problem.values[rows, choice][:, None],
                        -np.inf)
        g, k = np.unravel_index(np.argmax(gain), gain.shape)
        if not gain[g, k] > 0:
            break
        choice[g] = k
    return choice


def _grid_items(problem: _Problem, step: float) -> List[Items]:
    """Pareto-optimal choices per group with costs floored to a grid.

    A choice is dropped when another of the group is at most as heavy on
    the grid and at least as valuable; dropping it never loses optimality.

    Args:
        problem (_Problem): The problem.
        step (float): Grid step in latency units.

    Returns:
        List[Items]: Per group, the kept choices sorted by weight; the
        first always has weight 0.
    """
    items = []
    for vals, wts in zip(problem.values, problem.weights):
        ks = np.flatnonzero(np.isfinite(wts))
        cells = np.floor(wts[ks] / step).astype(np.int64)
        order = np.lexsort((-vals[ks], cells))
        ks, cells, v = ks[order], cells[order], vals[ks][order]
        running = np.maximum.accumulate(v)
        keep = np.ones(ks.size, bool)
        keep[1:] = v[1:] > running[:-1]
        items.append((ks[keep], cells[keep], v[keep]))
    return items


def _choice_dtype(width: int) -> np.dtype:
    """Smallest unsigned dtype holding choice indices ``< width``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if width <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _dp(items: List[Items], n_cells: int,
        width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Multiple-choice knapsack table over capacities ``0..n_cells``.

    ``best[c]`` is the largest value of one choice per group whose grid
    weights sum to at most ``c``; ``table[g, c]`` is group g's choice in
    that optimum of groups ``0..g``, for backtracking.

    Args:
        items (List[Items]): Per group, choices from :func:`_grid_items`.
        n_cells (int): Capacity in grid cells.
        width (int): Number of choice indices (Kmax).

    Returns:
        Tuple[np.ndarray, np.ndarray]: ``table`` (G, n_cells + 1) of
        choice indices and ``best`` (n_cells + 1,) float64.
    """
    size = n_cells + 1
    table = np.empty((len(items), size), _choice_dtype(width))
    prev, cur, cand = np.zeros(size), np.empty(size), np.empty(size)
    better = np.empty(size, bool)
    for g, (ks, cells, vals) in enumerate(items):
        row = table[g]
        np.add(prev, vals[0], out=cur)
        row.fill(int(ks[0]))
        for k, w, v in zip(ks[1:].tolist(), cells[1:].tolist(),
                           vals[1:].tolist()):
            span = size - w
            if span <= 0:
                break
            np.add(prev[:span], v, out=cand[:span])
            np.greater(cand[:span], cur[w:], out=better[:span])
            np.copyto(cur[w:], cand[:span], where=better[:span])
            np.copyto(row[w:], k, where=better[:span])
        prev, cur = cur, prev
    return table, prev


def _traced_weights(table: np.ndarray, cells: np.ndarray,
                    weights: np.ndarray) -> np.ndarray:
    """Real weight of the table's solution at every capacity.

    Args:
        table (np.ndarray): (G, n_cells + 1) choices from :func:`_dp`.
        cells (np.ndarray): (G, Kmax) int grid weights of every choice.
        weights (np.ndarray): (G, Kmax) real weights of every choice.

    Returns:
        np.ndarray: (n_cells + 1,) float64; entry c is the real weight of
        the solution backtracked from capacity c.
    """
    at = np.arange(table.shape[1])
    total = np.zeros(table.shape[1])
    for g in range(table.shape[0] - 1, -1, -1):
        k = table[g, at]
        total += weights[g, k]
        at -= cells[g, k]
    return total


def _backtrack(table: np.ndarray, cells: np.ndarray,
               start: int) -> np.ndarray:
    """The table's solution at capacity ``start``, (G,) int."""
    choice = np.empty(table.shape[0], np.int64)
    for g in range(table.shape[0] - 1, -1, -1):
        choice[g] = table[g, start]
        start -= int(cells[g, choice[g]])
    return choice


def _grid_cells(problem: _Problem, step: float) -> np.ndarray:
    """(G, Kmax) int weights floored to the grid, 0 where forbidden."""
    finite = np.isfinite(problem.weights)
    floored = np.floor(np.where(finite, problem.weights, 0.0) / step)
    return floored.astype(np.int64)


def _solve_grid(problem: _Problem, n_cells: int,
                step: float) -> Tuple[Optional[np.ndarray], float]:
    """Solve the floored relaxation on one grid.

    Args:
        problem (_Problem): The problem.
        n_cells (int): Capacity in grid cells, ``floor(capacity / step)``.
        step (float): Grid step in latency units.

    Returns:
        Tuple[Optional[np.ndarray], float]: The most valuable candidate
        (G,) int that is feasible for the real costs (None if none is),
        and the relaxation's optimum, an upper bound on the true optimum.
    """
    width = problem.values.shape[1]
    table, best = _dp(_grid_items(problem, step), n_cells, width)
    cells = _grid_cells(problem, step)
    real = _traced_weights(table, cells, problem.weights)
    feasible = real <= problem.capacity
    upper = float(best[-1])
    if not feasible.any():
        return None, upper
    pick = int(np.argmax(np.where(feasible, best, -np.inf)))
    return _backtrack(table, cells, pick), upper


def _integer_step(problem: _Problem) -> Optional[float]:
    """The gcd of the shifted costs if they and the capacity are integers.

    Args:
        problem (_Problem): The problem.

    Returns:
        Optional[float]: Exact grid step, or None for non-integer data.
    """
    wts = problem.weights[np.isfinite(problem.weights)]
    cap = problem.capacity
    data = np.append(wts, cap)
    if data.max() >= _EXACT_INT or not np.all(data == np.round(data)):
        return None
    positive = wts[wts > 0].astype(np.int64)
    return float(np.gcd.reduce(positive)) if positive.size else 1.0


def _hull(weights: np.ndarray, values: np.ndarray) -> List[int]:
    """One group's upper convex hull in the (weight, value) plane.

    Args:
        weights (np.ndarray): (Kmax,) shifted costs, ``inf`` if forbidden.
        values (np.ndarray): (Kmax,) values.

    Returns:
        List[int]: Choice indices from the cheapest (most valuable among
        the cheapest) to the most valuable; weights and values strictly
        increase, slopes strictly decrease.
    """
    ks = np.flatnonzero(np.isfinite(weights))
    hull: List[int] = []
    for k in ks[np.lexsort((-values[ks], weights[ks]))].tolist():
        if hull and values[k] <= values[hull[-1]]:
            continue
        while len(hull) > 1:
            a, b = hull[-2], hull[-1]
            if ((values[b] - values[a]) * (weights[k] - weights[b]) >
                    (values[k] - values[b]) * (weights[b] - weights[a])):
                break
            hull.pop()
        hull.append(k)
    return hull


def _lp_bound(problem: _Problem) -> Tuple[float, np.ndarray]:
    """Linear-programming bound and its greedy integer solution.

    The LP relaxation of a multiple-choice knapsack moves every group up
    its convex hull, steepest segment first, until the capacity is spent
    (at most one segment taken fractionally). Its value bounds the
    optimum from above; the segments taken whole form a feasible choice.

    Args:
        problem (_Problem): The problem.

    Returns:
        Tuple[float, np.ndarray]: The bound and a (G,) int feasible choice.
    """
    choice = np.empty(problem.num_groups, np.int64)
    segments = []
    for g, (wts, vals) in enumerate(zip(problem.weights, problem.values)):
        hull = _hull(wts, vals)
        choice[g] = hull[0]
        for a, b in zip(hull[:-1], hull[1:]):
            dw, dv = wts[b] - wts[a], vals[b] - vals[a]
            segments.append((dv / dw, dw, dv, g, b))
    bound = problem.value(choice)
    room = problem.capacity
    for _, dw, dv, g, b in sorted(segments, reverse=True):
        if dw > room:
            return bound + dv * room / dw, choice
        room -= dw
        bound += dv
        choice[g] = b
    return bound, choice


def _refine(problem: _Problem, max_cells: int,
            rel_tol: float) -> np.ndarray:
    """Best feasible choice from successively finer grids.

    Args:
        problem (_Problem): The problem; the capacity is positive.
        max_cells (int): Largest table, groups x capacity cells; the
            capacity is also capped at ``_MAX_CAPACITY_CELLS``.
        rel_tol (float): Certified relative optimality gap to stop at.

    Returns:
        np.ndarray: (G,) int feasible choice.
    """
    groups = problem.num_groups
    upper, incumbent = _lp_bound(problem)
    incumbent = _improve(problem, incumbent)
    inc_value = problem.value(incumbent)
    limit = max(1, min(max_cells // groups - 1, _MAX_CAPACITY_CELLS))
    step = _integer_step(problem)
    if step is not None and problem.capacity // step <= limit:
        n_cells = int(problem.capacity // step)
    else:
        n_cells = min(_START_CELLS, limit)
        step = problem.capacity / n_cells
    while True:
        candidate, bound = _solve_grid(problem, n_cells, step)
        upper = min(upper, bound)
        if candidate is not None:
            candidate = _improve(problem, candidate)
            if problem.value(candidate) > inc_value:
                incumbent, inc_value = candidate, problem.value(candidate)
        if inc_value >= upper - rel_tol * abs(upper):
            return incumbent
        if 2 * n_cells > limit:
            break
        n_cells *= 2
        step = problem.capacity / n_cells
    gap = (upper - inc_value) / abs(upper) if upper else math.inf
    warnings.warn(
        f'latency_knapsack: grid limit of {max_cells} cells reached; the '
        f'returned choice is feasible and within {gap:.3%} of the optimum '
        f'(requested {rel_tol:.3%})')
    return incumbent


def latency_knapsack(values: Sequence[Row],
                     costs: Sequence[Row],
                     budget: float,
                     max_cells: int = 2**24,
                     rel_tol: float = 1e-3) -> List[int]:
    """Choose how many blocks every group keeps under a latency budget.

    Maximises ``sum_g values[g][k_g]`` subject to
    ``sum_g costs[g][k_g] <= budget``, exactly one ``k_g`` per group.

    Guarantees: the result is always feasible for the real costs (up to
    float rounding of the sums). It is the exact optimum when all finite
    costs and the budget are integers and the table, groups x
    ``(budget - smallest latency) / gcd(cost steps)`` cells, fits
    ``max_cells`` (see below); otherwise its value is certified within
    ``rel_tol`` of the optimum (for non-negative values), or a warning
    states the certified gap reached at ``max_cells``.

    Args:
        values (Sequence[Sequence[float] | np.ndarray]): G rows; row g,
            shape (K_g + 1,), holds the saliency kept when group g keeps
            its k most important blocks, k = 0..K_g. Lengths may differ
            between groups. ``-inf`` forbids a choice.
        costs (Sequence[Sequence[float] | np.ndarray]): G rows shaped like
            ``values``: the latency of each choice. Any real, possibly
            negative or non-monotone in k; ``math.inf`` forbids a choice.
        budget (float): Latency budget, same unit as ``costs``.
        max_cells (int): Largest dynamic-programming table (groups x
            capacity cells, one byte each for up to 256 choices); the
            capacity axis is further capped at 2**22 cells. Defaults to
            2**24.
        rel_tol (float): Relative optimality gap certified for real
            costs. Defaults to 1e-3.

    Returns:
        List[int]: The chosen k per group, length G.

    Raises:
        ValueError: If shapes mismatch (naming the group), an entry is
            NaN, a group has no finite cost (naming the group), or the
            budget is below the smallest reachable latency (the message
            names both).

    Example:
        >>> latency_knapsack([[0, 3, 4], [0, 2, 5]],
        ...                  [[0, 1, 2], [0, 1, 2]], budget=3)
        [1, 2]
    """
    if not len(values) and not len(costs):
        return []
    problem = _build_problem(values, costs, budget)
    choice = _greedy_max(problem)
    if problem.weight(choice) > problem.capacity:
        choice = _refine(problem, max_cells, rel_tol)
    return [int(k) for k in choice]


def knapsack_value(values: Sequence[Row], choice: Sequence[int]) -> float:
    """Summed saliency ``sum_g values[g][choice[g]]``.

    Args:
        values (Sequence[Row]): G rows of saliencies.
        choice (Sequence[int]): G chosen indices.

    Returns:
        float: The total value.
    """
    return math.fsum(float(row[k]) for row, k in zip(values, choice))


def knapsack_cost(costs: Sequence[Row], choice: Sequence[int]) -> float:
    """Summed latency ``sum_g costs[g][choice[g]]``.

    Args:
        costs (Sequence[Row]): G rows of latencies.
        choice (Sequence[int]): G chosen indices.

    Returns:
        float: The total latency.
    """
    return knapsack_value(costs, choice)
