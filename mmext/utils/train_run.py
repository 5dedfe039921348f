"""Train one MMEngine Runner and read its final validation metric: the
step the comparison tools under ``tools/analysis_tools/`` repeat for every
run they train."""
import time
from typing import Tuple

__all__ = ['train_and_read_metric']


def train_and_read_metric(runner, metric: str,
                          tool: str) -> Tuple[float, float]:
    """Run ``runner.train()`` and return its last ``val/<metric>``.

    Args:
        runner (mmengine.runner.Runner): A built runner whose config
            validates (at least at its last epoch or iteration).
        metric (str): The metric's name as the evaluator logs it, without
            ``val/`` (e.g. ``accuracy/top1``, ``coco/bbox_mAP``).
        tool (str): The calling tool's name, for the error message.

    Returns:
        tuple[float, float]: The metric's last value and the training's
        wall-clock seconds.

    Raises:
        SystemExit: The run logged no ``val/<metric>``; the message lists
        the validation metrics it did log and names ``--metric``.
    """
    start = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - start
    scalars = runner.message_hub.log_scalars
    key = f'val/{metric}'
    if key not in scalars:
        logged = sorted(k for k in scalars if k.startswith('val/'))
        raise SystemExit(f'{tool}: no validation metric {metric!r}; the run '
                         f'logged {logged}; pass --metric')
    return float(scalars[key].current()), seconds
