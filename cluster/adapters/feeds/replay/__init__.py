"""Replay feed: generated ticks, the backtest's market (recorded files: ``cluster.adapters.feeds.files``)."""

from cluster.adapters.feeds.replay.generator import PlantedEvent, generate_ticks

__all__ = ["PlantedEvent", "generate_ticks"]
