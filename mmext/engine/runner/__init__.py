"""mmext.engine.runner: loops registered in the ``mmext`` scope."""
from .active_learning_loop import ActiveLearningLoop
from .gradinversion_loop import GradInversionLoop

__all__ = ['ActiveLearningLoop', 'GradInversionLoop']
