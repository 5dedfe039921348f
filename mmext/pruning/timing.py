"""Deprecated: moved to :mod:`mmext.pruning.latency.timing`.

``from mmext.pruning.timing import X`` keeps working for one release with a
``DeprecationWarning``; import ``X`` from :mod:`mmext.pruning.latency`
instead.
"""

_MOVED = ('measure_layer_latency', 'build_lut', 'median_of_minima',
          'measure_forward_latency', 'measure_network_latency')
__all__ = list(_MOVED)


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    from mmext.utils.deprecation import warn_moved
    warn_moved(f'mmext.pruning.timing.{name}',
               f'mmext.pruning.latency.{name}')
    from .latency import timing
    return getattr(timing, name)
