"""Live state for the API and the dashboard: latest quotes, accounts with their positions,
headroom, breaker states and agent heartbeats, plus a pub/sub channel of events.

``RedisLive`` keeps it in Redis (hashes under ``octet:``, events on ``octet:events``);
``MemoryLive`` keeps the same documents in the process (the embedded default). Live state is a
view, not the record: PostgreSQL is. A Redis that restarts empty is noticed at the next publish
(its ``octet:run`` key is gone) and rebuilt from the store before anything new is written; a
Redis that is down costs the view, never the session (the error is counted and retried).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select

from cluster.storage import models as m
from cluster.storage.rows import breaker_row, equity_row, headroom_row, jsonable, position_rows, stored
from trading.breaker import BreakerEvent
from trading.compliance import Headroom
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot

PREFIX = "octet:"
CHANNEL = "octet:events"
HASHES = ("quotes", "accounts", "headroom", "breaker", "heartbeats")


def _dump(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)


def account_doc(equity: Mapping[str, Any], positions: list[dict[str, Any]]) -> str:
    """An account as the view shows it: its equity row and its open positions (by position id),
    from a snapshot or from the rows the store holds."""
    ordered = sorted(positions, key=lambda p: p["position_id"])
    return _dump({**jsonable(dict(equity)), "positions": [jsonable(p) for p in ordered]})


def quote_doc(registry: InstrumentRegistry, symbol: str, ts_ns: int, bid: int, ask: int) -> str:
    inst = registry[symbol]
    return _dump({"ts_ns": ts_ns, "bid": str(inst.price_from_points(bid)), "ask": str(inst.price_from_points(ask))})


def breaker_key(e: BreakerEvent | Mapping[str, Any]) -> str:
    tier, scope = (e.tier.value, e.scope) if isinstance(e, BreakerEvent) else (e["tier"], e["scope"])
    return f"{tier}:{scope}"


class LiveFacts(Protocol):
    """What the live view reads of a batch's record (``cluster.desk.record.BatchRecord``)."""

    @property
    def batch(self) -> int: ...
    @property
    def last_quotes(self) -> Mapping[str, tuple[int, int, int]]: ...
    @property
    def snapshots(self) -> Mapping[str, AccountSnapshot]: ...
    @property
    def latest_headroom(self) -> Mapping[str, Headroom]: ...
    @property
    def breaker_events(self) -> Sequence[BreakerEvent]: ...
    @property
    def heartbeats(self) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass
class Publication:
    """What one batch changes in the live view."""

    run_id: str
    batch: int
    quotes: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    headroom: dict[str, str] = field(default_factory=dict)
    breaker: dict[str, str] = field(default_factory=dict)
    heartbeats: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def of(run_id: str, batch: int, registry: InstrumentRegistry, quotes: Mapping[str, tuple[int, int, int]],
           snapshots: Mapping[str, AccountSnapshot], headrooms: Mapping[str, Headroom],
           events: Sequence[BreakerEvent], heartbeats: Mapping[str, Mapping[str, Any]]) -> Publication:
        p = Publication(run_id, batch)
        p.quotes = {s: quote_doc(registry, s, *q) for s, q in quotes.items()}
        p.accounts = {a: account_doc(equity_row(s), position_rows(s)) for a, s in snapshots.items()}
        p.headroom = {a: _dump(jsonable(headroom_row(h))) for a, h in headrooms.items()}
        for e in events:  # the last transition of each breaker wins
            p.breaker[breaker_key(e)] = _dump(jsonable(breaker_row(e)))
        p.heartbeats = {n: _dump(dict(h)) for n, h in heartbeats.items()}
        return p

    @staticmethod
    def of_record(run_id: str, registry: InstrumentRegistry, r: LiveFacts) -> Publication:
        """What a batch's record changes in the view."""
        return Publication.of(run_id, r.batch, registry, r.last_quotes, r.snapshots, r.latest_headroom,
                              r.breaker_events, r.heartbeats)

    def event(self) -> str:
        return _dump({"type": "batch", "run_id": self.run_id, "batch": self.batch,
                      "headroom": {a: json.loads(h) for a, h in self.headroom.items()},
                      "breaker": [json.loads(b) for b in self.breaker.values()]})


class MemoryLive:
    """The live view in this process (embedded mode)."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, str]] = {h: {} for h in HASHES}
        self.run_id = ""
        self.events: list[str] = []
        self.errors = 0  # (always 0: the same counters as RedisLive's, which can fail)
        self.last_error = ""
        self.rebuilds = 0

    def publish(self, p: Publication, store: Any = None) -> None:
        self.run_id = p.run_id
        for h in HASHES:
            self.state[h].update(getattr(p, h))
        self.events.append(p.event())
        del self.events[:-1000]

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {h: dict(v) for h, v in self.state.items()}

    def close(self) -> None:
        pass


class RedisLive:
    """The live view in Redis: one pipeline (one round trip) per batch."""

    def __init__(self, url: str, registry: InstrumentRegistry) -> None:
        import redis

        self.url = url
        self.registry = registry
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0,
                                           decode_responses=True)
        self.errors = 0
        self.rebuilds = 0
        self.last_error = ""

    def publish(self, p: Publication, store: Any = None) -> None:
        import redis

        try:
            if store is not None and self.client.get(PREFIX + "run") != p.run_id:
                self.rebuild(store, p.run_id)  # Redis restarted empty (or another run was shown)
            pipe = self._put(self.client.pipeline(transaction=True), p)
            pipe.publish(CHANNEL, p.event())
            pipe.execute()
        except redis.RedisError as exc:
            self.errors += 1
            self.last_error = str(exc)

    def rebuild(self, store: Any, run_id: str) -> None:
        """Write the view of ``run_id`` as the store has it: the last equity and open positions of
        each account, its last headroom, the last transition of each breaker, the last quotes."""
        pub = Publication(run_id, -1)
        e, hr, br, pos = (m.EquityRow.__table__, m.HeadroomRow.__table__, m.BreakerEventRow.__table__,
                          m.PositionRow.__table__)
        with store.engine.connect() as conn:
            last_eq = select(e.c.account_id, func.max(e.c.id).label("id")).where(e.c.run_id == run_id) \
                .group_by(e.c.account_id).subquery()
            positions: dict[str, list[dict[str, Any]]] = {}
            for row in conn.execute(select(pos).where(pos.c.run_id == run_id)).mappings():
                positions.setdefault(row["account_id"], []).append(stored(row))
            for row in conn.execute(select(e).join(last_eq, e.c.id == last_eq.c.id)).mappings():
                pub.accounts[row["account_id"]] = account_doc(stored(row), positions.get(row["account_id"], []))
            last_hr = select(func.max(hr.c.id)).where(hr.c.run_id == run_id).group_by(hr.c.account_id)
            for row in conn.execute(select(hr).where(hr.c.id.in_(last_hr))).mappings():
                pub.headroom[row["account_id"]] = _dump(jsonable(stored(row)))
            last_br = select(func.max(br.c.id)).where(br.c.run_id == run_id).group_by(br.c.tier, br.c.scope)
            for row in conn.execute(select(br).where(br.c.id.in_(last_br))).mappings():
                pub.breaker[breaker_key(row)] = _dump(jsonable(stored(row)))
        from cluster.storage.timeseries import TimeSeries

        for symbol, q in TimeSeries(store.engine, self.registry).last_quotes().items():
            pub.quotes[symbol] = quote_doc(self.registry, symbol, *q)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*(PREFIX + h for h in HASHES))
        self._put(pipe, pub).execute()
        self.rebuilds += 1

    @staticmethod
    def _put(pipe: Any, p: Publication) -> Any:
        """Queue a publication's documents on ``pipe``, and mark the run they belong to."""
        for h in HASHES:
            docs = getattr(p, h)
            if docs:
                pipe.hset(PREFIX + h, mapping=docs)
        pipe.set(PREFIX + "run", p.run_id)
        return pipe

    def snapshot(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for h in HASHES:  # decode_responses: keys and values are str
            out[h] = {str(k): str(v) for k, v in self.client.hgetall(PREFIX + h).items()}
        return out

    def close(self) -> None:
        self.client.close()
