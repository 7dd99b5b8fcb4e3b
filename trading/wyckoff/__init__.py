"""Wyckoff structure detection from bars with (tick) volume."""

from trading.wyckoff.detector import WyckoffDetector, WyckoffEvent, WyckoffParams

__all__ = ["WyckoffDetector", "WyckoffEvent", "WyckoffParams"]
