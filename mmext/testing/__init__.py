"""Test helpers: multi-process (gloo) runs and toy runner components.

``mmext.testing.distributed`` needs only torch. The toy model, data set and
metric live in :mod:`mmext.testing.toy`; import it explicitly (it registers
``Toy*`` classes in mmext's registries). :mod:`mmext.testing.generators`
holds the checks shared by the tests of the data generators,
:mod:`mmext.testing.inversion` the GradInversion attacks shared by the tests
of its seed paths.
"""
from .distributed import (DistributedChildError, find_free_port,
                          run_distributed)

__all__ = ['run_distributed', 'find_free_port', 'DistributedChildError']
