"""The warnings of names kept for one release after they moved or were
replaced (by another mmext path or by a maintained library)."""
import warnings


def warn_moved(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that the import path ``old`` moved to ``new``.

    Args:
        old (str): The old dotted path, e.g. ``'mmext.pruning.timing.X'``.
        new (str): The new dotted path (and, if useful, how configs reach
            it).
        stacklevel (int): Frame the warning points at. Defaults to 3, the
            caller of the module ``__getattr__`` that calls this one.
    """
    warnings.warn(
        f'{old} moved to {new}; import it from there (the old path goes in '
        'the next release)', DeprecationWarning, stacklevel=stacklevel)


def warn_replaced(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is a deprecated alias of ``new``.

    Args:
        old (str): The deprecated name, e.g. ``'mmext.Accuracy'``.
        new (str): What to use instead, e.g. ``"mmpretrain's Accuracy"``.
        stacklevel (int): Frame the warning points at. Defaults to 3, the
            caller of the function that calls this one.
    """
    warnings.warn(
        f'{old} is deprecated and goes in the next release; use {new} '
        'instead', DeprecationWarning, stacklevel=stacklevel)
