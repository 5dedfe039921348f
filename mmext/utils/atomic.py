"""Atomic file writes: a crash or a full disk never leaves a half-written
file where a good one was."""
import os
import os.path as osp
import tempfile
from typing import Any, Callable


def atomic_write(path: str, write: Callable[[str], None],
                 suffix: str = '') -> None:
    """Write ``path`` through ``write(tmp_path)`` and ``os.replace``.

    ``write`` receives a temporary path in the same directory (so the final
    rename stays on one file system) and must leave the complete file there;
    ``path`` is replaced only after it returns, and an existing ``path`` stays
    intact if it raises. ``suffix`` (e.g. ``'.onnx'``) is given to the
    temporary name for writers that look at the extension. The file gets
    the mode of a newly created file (``0o666 & ~umask``), not mkstemp's
    0600.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-',
                                   suffix=suffix)
    os.close(handle)
    try:
        write(tmp)
        # mkstemp creates the file 0600; give it the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)`` atomically (see :func:`atomic_write`)."""
    import torch  # here: numpy-only users of this module skip torch

    atomic_write(path, lambda tmp: torch.save(obj, tmp), suffix='.pth')


def atomic_write_json(path: str, obj: Any, indent: int = 2) -> None:
    """``json.dump(obj)`` to ``path`` atomically (see :func:`atomic_write`)."""
    import json

    def dump(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as handle:
            json.dump(obj, handle, indent=indent)
            handle.write('\n')

    atomic_write(path, dump, suffix='.json')
