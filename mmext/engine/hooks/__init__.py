"""mmext.engine.hooks: training hooks (HALP pruning, ...)."""
from .halp_hook import HALPHook

__all__ = ['HALPHook']
