"""Shared fixtures: the default settings, instruments, and one local Ray for the integration tests."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from cluster.settings import Settings, load_settings
from trading.instruments import Instrument, InstrumentRegistry

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(ROOT / "octet.yaml")


@pytest.fixture(scope="session")
def registry(settings: Settings) -> InstrumentRegistry:
    return settings.registry()


@pytest.fixture
def eurusd() -> Instrument:
    return Instrument("EURUSD", "EUR", "USD", 5, Decimal("0.0001"))


@pytest.fixture
def usdjpy() -> Instrument:
    return Instrument("USDJPY", "USD", "JPY", 3, Decimal("0.01"))


@pytest.fixture(scope="session")
def ray_local(settings: Settings):  # type: ignore[no-untyped-def]
    import ray

    from cluster.topology import init_ray

    init_ray(settings)
    yield ray
    ray.shutdown()
