"""Shared fixtures: the default settings, instruments, and one local Ray for the integration tests."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from cluster.config.settings import Settings, load_settings
from trading.instruments import Instrument, InstrumentRegistry

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")  # as the desk runs: Ray refuses callers without its token


def replay_ticks(settings: Settings):  # type: ignore[no-untyped-def]
    """The replay generator's ticks for ``settings.session`` (from Monday 2 March 2026)."""
    from datetime import UTC, datetime

    from cluster.adapters.feeds.replay import generate_ticks

    s = settings.session
    batch, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed,
                              datetime(2026, 3, 2, tzinfo=UTC))
    return batch


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

    from cluster.desk.topology import init_ray

    init_ray(settings)
    yield ray
    ray.shutdown()


# -- real PostgreSQL and Redis, started by the tests themselves (Debian's binaries) ------------------
@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One PostgreSQL server for the whole run; each test module takes a database of its own."""
    import shutil
    import tempfile

    from cluster.devservers.services import LocalPostgres

    base = tempfile.mkdtemp(prefix="octet-test-pg-")  # in /tmp: the postgres user (when we are root) reaches it
    pg = LocalPostgres(Path(base))
    pg.start()
    yield pg
    pg.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from cluster.devservers.services import LocalRedis

    rd = LocalRedis(tmp_path_factory.mktemp("redis"))
    rd.start()
    yield rd
    rd.stop()


def fresh_database(pg, name: str) -> str:  # type: ignore[no-untyped-def]
    """A new, empty database on ``pg``; returns its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(pg.url_of(name))


@pytest.fixture(scope="session")
def kafka_broker():  # type: ignore[no-untyped-def]
    """A real single-node Kafka broker (KRaft) for the whole run, started by cluster/devservers/kafka/kafka.sh."""
    import shutil
    import tempfile

    from cluster.devservers.services import LocalKafka

    base = tempfile.mkdtemp(prefix="octet-test-kafka-")
    broker = LocalKafka(Path(base))
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(base, ignore_errors=True)
