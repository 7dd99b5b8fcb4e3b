"""Wyckoff structure detection from bars with (tick) volume.

- ``params``: every threshold; ``features``: per-bar features (exact, in both modes);
  ``machine``: ranges, events, phases and signals, with their definitions in its docstring;
  ``detector``: the batch mode (``detect``) and the incremental mode (``WyckoffDetector``);
  ``scenarios``: labelled schematics for accuracy checks; ``chart``: PNG charts.
"""

from trading.wyckoff.detector import Detection, WyckoffDetector, bars_frame, detect, detect_points
from trading.wyckoff.machine import PHASES, STRUCTURE_EVENTS, WyckoffEvent
from trading.wyckoff.params import WyckoffParams

__all__ = ["PHASES", "STRUCTURE_EVENTS", "Detection", "WyckoffDetector", "WyckoffEvent", "WyckoffParams",
           "bars_frame", "detect", "detect_points"]
