"""Optional dependencies: import them where they are needed, with an error
that names the package and the command that installs it."""
import importlib
from types import ModuleType
from typing import Optional

__all__ = ['require_package']


def require_package(module: str, purpose: str,
                    pip_name: Optional[str] = None) -> ModuleType:
    """Import ``module`` or raise an ImportError that says how to get it.

    Args:
        module (str): The import name, e.g. ``'pymeshlab'``.
        purpose (str): What needs it, e.g. ``'Screened Poisson surface
            reconstruction'``.
        pip_name (str, optional): The name on PyPI when it differs.

    Raises:
        ImportError: ``'{purpose} needs the `{module}` package, which is not
        installed: pip install {pip_name}'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f'{purpose} needs the `{module}` package, which is not '
            f'installed: pip install {pip_name or module}') from err
