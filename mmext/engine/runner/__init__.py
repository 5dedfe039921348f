"""mmext.engine.runner: loops registered in the ``mmext`` scope."""
from .gradinversion_loop import GradInversionLoop

__all__ = ['GradInversionLoop']
