"""mmext.engine.hooks: training hooks (HALP and EPI pruning, ...)."""
from .epi_hook import EPIHook
from .halp_hook import HALPHook
from .pruning_hook import BasePruningHook

__all__ = ['BasePruningHook', 'EPIHook', 'HALPHook']
