"""Temporary instance-level method patches.

Wrapper models (DICOD's distiller, the flip-consistency detector) watch or
adjust a few methods of an mmdet detector they wrap (its feature extractor,
its head's target computation) for the duration of one forward, without
subclassing or copying mmdet code: an instance attribute shadows the class
method and is removed again on exit.
"""
import contextlib
import functools
from typing import Callable, Iterator

from torch import nn

_MISSING = object()


@contextlib.contextmanager
def patched_method(module: nn.Module, name: str,
                   wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    """Replace ``module.name`` by ``wrap(module.name)`` while inside.

    The replacement is an instance attribute, so other instances of the
    class are untouched. Patches nest: an earlier instance-level patch of
    the same method is what ``wrap`` receives, and it is restored on exit.

    Args:
        module: The module whose (bound) method is patched.
        name: The method's name.
        wrap: Takes the current bound method and returns the callable to use
            instead (called with the method's own arguments).
    """
    method = getattr(module, name)
    previous = module.__dict__.get(name, _MISSING)
    object.__setattr__(module, name, functools.wraps(method)(wrap(method)))
    try:
        yield
    finally:
        if previous is _MISSING:
            object.__delattr__(module, name)
        else:
            object.__setattr__(module, name, previous)
