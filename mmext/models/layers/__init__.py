"""Small building blocks in plain PyTorch, shared by mmext's models."""
from .drop_path import DropPath, drop_path

__all__ = ['DropPath', 'drop_path']
