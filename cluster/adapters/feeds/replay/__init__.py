"""Replay feed: generated or recorded ticks and bars, the backtest's market."""

from cluster.adapters.feeds.replay.generator import PlantedEvent, generate_ticks
from cluster.adapters.feeds.replay.reader import points_per_unit, read_bars, read_ticks

__all__ = ["PlantedEvent", "generate_ticks", "points_per_unit", "read_bars", "read_ticks"]
