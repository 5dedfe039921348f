"""mmext.engine.hooks: training hooks (HALP and EPI pruning, ...)."""
from .epi_hook import EPIHook
from .halp_hook import HALPHook

__all__ = ['EPIHook', 'HALPHook']
