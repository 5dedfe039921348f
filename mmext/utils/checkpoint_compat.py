"""Let MMEngine resume from its own checkpoints on torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``. MMEngine 0.10.7
writes a few non-tensor objects into every checkpoint (the message hub's
``HistoryBuffer`` statistics, numpy arrays and scalars), so ``resume=True``
fails with ``Weights only load failed``. Switching ``weights_only`` off would
let any pickled callable run on load; instead mmext allow-lists exactly the
globals MMEngine writes (``torch.serialization.add_safe_globals``):

* numpy's array and scalar reconstruction (``_reconstruct``, ``scalar``,
  ``ndarray``, ``dtype`` and the concrete DType classes);
* ``mmengine.logging.HistoryBuffer``;
* ``builtins.getattr`` -- pickle uses it to look up numpy DType classes and
  ``HistoryBuffer``'s statistics methods. The real ``getattr`` would let a
  checkpoint reach any attribute of an allow-listed object, so a restricted
  stand-in is registered under that name that answers only those lookups.
"""
import pickle
from typing import Any, Callable, List, Set, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_GETATTR_NAME = 'builtins.getattr'


def _numpy_globals() -> List[Any]:
    """The numpy callables and classes that pickled arrays and scalars use."""
    multiarray = getattr(np, '_core', None) or np.core
    multiarray = multiarray.multiarray
    dtype_classes = [type(np.dtype(code)) for code in np.typecodes['All']]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            *sorted(set(dtype_classes), key=lambda cls: cls.__name__)]


def _history_buffer_methods() -> Set[str]:
    """Names of the statistics methods a ``HistoryBuffer`` pickles."""
    buffer = HistoryBuffer()
    return set(getattr(buffer, '_statistics_methods', {}))


def _allowed_getattr_pairs() -> Set[Tuple[int, str]]:
    pairs = {(id(HistoryBuffer), name) for name in _history_buffer_methods()}
    for cls in _numpy_globals():
        if isinstance(cls, type) and issubclass(cls, np.dtype):
            module = __import__(cls.__module__, fromlist=['_'])
            pairs.add((id(module), cls.__name__))
    return pairs


def _make_restricted_getattr() -> Callable[[Any, str], Any]:
    """A ``getattr`` that answers only the lookups MMEngine checkpoints use."""
    allowed = _allowed_getattr_pairs()

    def restricted_getattr(obj: Any, name: str) -> Any:
        if (id(obj), name) not in allowed:
            raise pickle.UnpicklingError(
                f'mmext allows checkpoints to look up only numpy DType '
                f'classes and HistoryBuffer statistics, not '
                f'{getattr(obj, "__name__", type(obj).__name__)}.{name}. '
                'Load untrusted files with care; for a trusted legacy file '
                'pass weights_only=False to torch.load yourself.')
        return getattr(obj, name)

    restricted_getattr.__name__ = 'getattr'
    restricted_getattr.__qualname__ = 'getattr'
    return restricted_getattr


def mmengine_checkpoint_globals() -> List[Any]:
    """Everything :func:`allow_mmengine_checkpoint_globals` registers."""
    return [*_numpy_globals(), HistoryBuffer,
            (_make_restricted_getattr(), _GETATTR_NAME)]


def allow_mmengine_checkpoint_globals() -> None:
    """Register MMEngine's checkpoint globals with ``torch.serialization``.

    Idempotent; a no-op on torch < 2.4, which has no ``add_safe_globals``.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    registered = {_name_of(entry) for entry in
                  torch.serialization.get_safe_globals()}
    new = [entry for entry in mmengine_checkpoint_globals()
           if _name_of(entry) not in registered]
    if new:
        add_safe_globals(new)


def _name_of(entry: Any) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'
