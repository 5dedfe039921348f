"""HALP's pruning schedule: when to prune and to which latency.

HALP (Shen et al., arXiv 2110.10811) prunes in ``num_steps`` steps, one every
``interval`` iterations from iteration ``start``, and lowers the latency
target geometrically from the dense latency ``L0`` to ``ratio * L0``::

    target_t = exp((t / T) * ln(ratio * L0) + (1 - t / T) * ln(L0))
             = L0 * ratio ** (t / T),            t = 1 .. T

The reference passes ``prune_steps`` where the end iteration is expected, so
any ``start > 0`` silently shortens or empties its target list; here the
schedule depends on ``start`` only through the iteration window.
"""
from dataclasses import dataclass
from typing import List, Optional


def geometric_latency_targets(dense_latency: float, final_ratio: float,
                              num_steps: int) -> List[float]:
    """Latency targets of the steps ``t = 1 .. num_steps``.

    Args:
        dense_latency (float): Latency of the unpruned model L0 (> 0).
        final_ratio (float): Final latency as a fraction of L0, in (0, 1].
        num_steps (int): Number of pruning steps T (>= 1).

    Returns:
        list[float]: ``L0 * final_ratio ** (t / T)``; the last equals
        ``final_ratio * L0``.
    """
    if dense_latency <= 0:
        raise ValueError(f'dense latency must be positive, got '
                         f'{dense_latency}')
    if not 0 < final_ratio <= 1:
        raise ValueError(
            f'target_ratio must be in (0, 1], got {final_ratio}')
    if num_steps < 1:
        raise ValueError(f'num_steps must be >= 1, got {num_steps}')
    return [
        dense_latency * final_ratio**(t / num_steps)
        for t in range(1, num_steps + 1)
    ]


@dataclass(frozen=True)
class PruningSchedule:
    """Which iterations accumulate saliency and which end with a step.

    Iterations are 0-based (``runner.iter`` during the iteration). The
    window is ``[start, start + num_steps * interval)``; step ``t`` (1-based)
    runs after iteration ``start + t * interval - 1``.

    Args:
        start (int): First iteration that accumulates saliency.
        interval (int): Iterations per pruning step.
        num_steps (int): Number of pruning steps.
    """

    start: int
    interval: int
    num_steps: int

    def __post_init__(self) -> None:
        for name in ('start', 'interval', 'num_steps'):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (name != 'start'):
                raise ValueError(
                    f'{name} must be an integer >= {int(name != "start")}, '
                    f'got {value!r}')

    @property
    def end(self) -> int:
        """First iteration after the pruning window."""
        return self.start + self.num_steps * self.interval

    def accumulates(self, iteration: int) -> bool:
        """Whether saliency is accumulated during ``iteration``."""
        return self.start <= iteration < self.end

    def step_after(self, iteration: int) -> Optional[int]:
        """The 1-based step that runs after ``iteration``, or None."""
        offset = iteration + 1 - self.start
        if offset <= 0 or offset % self.interval or iteration >= self.end:
            return None
        return offset // self.interval
