"""Capture and restore the global random generators (Python, NumPy, torch)
in plain types, so a checkpoint that holds them still loads with
``torch.load(weights_only=True)``.

A resumed active-learning cycle restores them to draw the same
augmentations as the uninterrupted run (single-process data loading).
"""
import random
from typing import Any, Dict

import numpy as np
import torch


def capture_rng() -> Dict[str, Any]:
    """The three generators' states."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return dict(
        python=random.getstate(),
        numpy=dict(name=name, keys=torch.from_numpy(keys.astype(np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached=float(cached)),
        torch=torch.get_rng_state())


def restore_rng(state: Dict[str, Any]) -> None:
    """Restore what :func:`capture_rng` returned."""
    python = state['python']
    # JSON-like round trips turn the inner tuple into a list.
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy = state['numpy']
    np.random.set_state(
        (numpy['name'], numpy['keys'].numpy().astype(np.uint32),
         numpy['pos'], numpy['has_gauss'], numpy['cached']))
    torch.set_rng_state(state['torch'])
