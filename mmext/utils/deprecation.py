"""One warning for the components that moved to a maintained library."""
import warnings


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
