"""What a latency table's numbers depend on besides the layers.

A table measured on one device, batch size or dtype does not hold on
another; :func:`make_meta` records the device fingerprint, batch, dtype,
time and mmext version of a table, which
:func:`~.table.check_compatible` compares with the run that uses it.
"""
import datetime
import platform
from typing import Any, Dict, Union

import torch

from .keys import UNITS

__all__ = ['device_fingerprint', 'dtype_name', 'make_meta']

#: The paper whose latency model the tables serve.
PAPER = 'HALP, Shen et al., NeurIPS 2022, arXiv:2110.10811'


def _cpu_model() -> str:
    """The CPU's model name, e.g. 'AMD EPYC'."""
    try:
        with open('/proc/cpuinfo') as file:
            for line in file:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint(device: Union[str, torch.device] = 'cpu') -> str:
    """What a latency table's numbers depend on besides the layers.

    Args:
        device (str | torch.device): the device. Defaults to 'cpu'.

    Returns:
        str: e.g. ``'cpu:AMD EPYC|torch 2.13.0|threads 2'`` or
        ``'cuda:NVIDIA H100|torch 2.13.0|cudnn 91000'``.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        return (f'cuda:{torch.cuda.get_device_name(device)}|torch '
                f'{torch.__version__}|cudnn {torch.backends.cudnn.version()}')
    return (f'{device.type}:{_cpu_model()}|torch {torch.__version__}|'
            f'threads {torch.get_num_threads()}')


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32 -> 'float32'``."""
    return str(dtype).replace('torch.', '')


def make_meta(device: Union[str, torch.device], batch: int,
              dtype: torch.dtype = torch.float32) -> Dict[str, Any]:
    """Provenance of a table measured now on ``device``.

    Args:
        device (str | torch.device): Where it is measured.
        batch (int): The batch size it is measured at.
        dtype (torch.dtype): Parameter and input dtype. Defaults to
            float32.

    Returns:
        Dict[str, Any]: ``device`` fingerprint, ``batch``, ``dtype``,
        ``created``, ``mmext_version``, ``units`` and ``paper``.
    """
    from mmext.version import __version__
    return dict(
        device=device_fingerprint(device), batch=batch,
        dtype=dtype_name(dtype),
        created=datetime.datetime.now().isoformat(timespec='seconds'),
        mmext_version=__version__, units=UNITS, paper=PAPER)
