"""The saga's orders and its audit trail, pinned: a short session on the demo's settings (octet.yaml)
gives the same orders and the same decisions, step by step, as the code of commit c87b05b did
(the saga then a CrewAI Flow awaiting each actor call in turn). A change to how the saga is run
that changes what it decides fails here."""

from __future__ import annotations

import hashlib
import json

import pytest

from cluster.config.settings import Settings, load_settings
from cluster.desk.session import Session, SessionResult
from tests.conftest import ROOT, replay_ticks

pytestmark = pytest.mark.ray
TICKS = 80_000  # 17 signals, 28 orders, 140 decisions on the demo's seed

# Computed on commit c87b05b (before the saga became a chain of ObjectRefs).
ORDERS = 28
ORDERS_SHA256 = "3494bcd2d9ee8bd774b8b8d99330b31cda1e09339628b498e96711de63ebd9c7"
DECISIONS = 140
DECISIONS_SHA256 = "057a5c9d5648ec25c5571fe3d037ea5f9ad6ad6bbd79377d6f0307de5e6918f7"


def orders_digest(result: SessionResult) -> str:
    rows = sorted((o.client_order_id, o.account_id, o.symbol, o.side.name, str(o.lots), o.order_type.value,
                   str(o.stop_loss), str(o.take_profit), o.signal_id, str(o.reference_price), o.max_slippage_points,
                   o.not_before_ns, o.expires_ns, str(o.limit_price), o.profile, o.seed, o.leg, o.min_hold_ns)
                  for o in result.orders)
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


def decisions_digest(result: SessionResult) -> str:
    """In the order the audit trail has them: the order of the steps is part of what is pinned."""
    rows = [(d.signal_id, d.account_id, d.step, d.outcome, d.rule, d.reason, [list(n) for n in d.numbers])
            for d in result.decisions]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


@pytest.fixture(scope="module")
def demo_run(ray_local, tmp_path_factory) -> SessionResult:  # type: ignore[no-untyped-def]
    settings: Settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path_factory.mktemp("fp")),
                                       session__ticks=TICKS)
    return Session(settings, run_id="fingerprint", keep_records=True).run(replay_ticks(settings))


def test_the_demo_session_places_the_orders_it_placed_at_c87b05b(demo_run: SessionResult) -> None:
    assert len(demo_run.orders) == ORDERS
    assert orders_digest(demo_run) == ORDERS_SHA256


def test_the_demo_session_records_the_decisions_it_recorded_at_c87b05b(demo_run: SessionResult) -> None:
    assert len(demo_run.decisions) == DECISIONS
    assert decisions_digest(demo_run) == DECISIONS_SHA256
