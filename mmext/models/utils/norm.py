"""Normalisation-config helpers."""
import copy
import logging
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.logging import print_log

SYNC_NORMS = ('SyncBN', 'MMSyncBN')


def sync_norm_blocker() -> Optional[str]:
    """Why synchronised batch norm cannot run here (it needs an initialised
    default process group and CUDA), or None when it can."""
    if not (dist.is_available() and dist.is_initialized()):
        return 'no distributed process group is initialised'
    if not torch.cuda.is_available():
        return 'CUDA is not available'
    return None


def resolve_sync_norm(norm_cfg: Optional[dict], owner: str) -> Optional[dict]:
    """Replace a SyncBN config by BN where SyncBN cannot run.

    The papers' configs use SyncBN; in one non-distributed process (one GPU,
    or a CPU) PyTorch would fail at the first training step with "Default
    process group has not been initialized", and on CPU even under gloo DDP.
    Here the model falls back to BN (same parameters and buffers, so
    checkpoints stay interchangeable) and the log says so.

    Args:
        norm_cfg (dict, optional): e.g. ``dict(type='SyncBN',
            requires_grad=True)``.
        owner (str): Module name for the log line.

    Returns:
        dict | None: ``norm_cfg`` itself, or a copy with ``type='BN'``.
    """
    if norm_cfg is None or norm_cfg.get('type') not in SYNC_NORMS:
        return norm_cfg
    why = sync_norm_blocker()
    if why is None:
        return norm_cfg
    print_log(
        f'{owner}: norm_cfg type {norm_cfg["type"]} needs a distributed run '
        f'on CUDA, but {why}; using BN instead (statistics of this '
        "process's batch only).",
        logger='current', level=logging.WARNING)
    resolved = copy.deepcopy(norm_cfg)
    resolved['type'] = 'BN'
    return resolved
