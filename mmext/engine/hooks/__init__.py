"""mmext.engine.hooks: training hooks (HALP and EPI pruning, ...) and the
direct-inversion test picture."""
from .direct_inversion_grid_hook import DirectInversionGridHook
from .epi_hook import EPIHook
from .halp_hook import HALPHook
from .pruning_hook import BasePruningHook

__all__ = [
    'BasePruningHook', 'DirectInversionGridHook', 'EPIHook', 'HALPHook'
]
