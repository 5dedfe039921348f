"""Checks of config values shared by the components' argument validation."""
from typing import Any

__all__ = ['is_int_at_least']


def is_int_at_least(value: Any, minimum: int) -> bool:
    """Whether ``value`` is a Python ``int`` of at least ``minimum``.

    ``bool`` is a subclass of ``int`` but never a count, so ``True`` and
    ``False`` are refused; so are floats such as ``2.0`` and strings.

    Args:
        value (Any): The config value.
        minimum (int): The smallest value allowed.

    Returns:
        bool: True for an int (not a bool) ``>= minimum``.
    """
    return (isinstance(value, int) and not isinstance(value, bool)
            and value >= minimum)
