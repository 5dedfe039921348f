"""Models that invert a classifier (mmext.DirectInverter)."""
from .direct_inverter import DirectInverter

__all__ = ['DirectInverter']
