"""Helpers shared by mmext's registered models."""
from .norm import resolve_sync_norm

__all__ = ['resolve_sync_norm']
