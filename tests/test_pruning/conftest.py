"""Fixtures of the pruning tests: tiny HALP and EPI configs on the shared
tiny Shapes data, and a hand-made runner for the hooks' methods."""
import functools
from unittest.mock import MagicMock

import pytest

from ._models import epi_tiny_cfg, halp_tiny_cfg, resnet18_classifier


@pytest.fixture
def halp_cfg(shapes_tiny):
    """``halp_cfg(work_dir, max_epochs=3, **hook)``: the tiny Shapes HALP
    config (:func:`._models.halp_tiny_cfg`) on ``shapes_tiny``."""
    return functools.partial(halp_tiny_cfg, shapes_tiny)


@pytest.fixture
def epi_cfg(shapes_tiny):
    """``epi_cfg(work_dir, max_epochs=3, **hook)``: the tiny Shapes EPI
    config (:func:`._models.epi_tiny_cfg`) on ``shapes_tiny``."""
    return functools.partial(epi_tiny_cfg, shapes_tiny)


@pytest.fixture
def hook_runner():
    """A stand-in runner for calling a hook's methods directly, as
    mmengine's hook tests do: an unwrapped quarter-width ResNet-18
    classifier, a mock logger, no other hooks and no optimiser yet."""
    runner = MagicMock()
    runner.model = resnet18_classifier(width=8)
    runner.hooks = []
    runner.optim_wrapper = None
    return runner
