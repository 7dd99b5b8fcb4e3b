"""Live state for the API and the dashboard: latest quotes, accounts with their positions,
headroom, breaker states and agent heartbeats, plus a stream of numbered messages.

``RedisLive`` keeps it in Redis (hashes under ``octet:``); ``MemoryLive`` keeps the same documents
in the process (the embedded default). Live state is a view, not the record: PostgreSQL is. A
Redis that restarts empty is noticed at the next publish (its ``octet:run`` key is gone) and
rebuilt from the store before anything new is written; a Redis that is down costs the view, never
the session (the error is counted and retried).

The stream (what the gateway's WebSocket serves, ``serve.stream``): each batch's quotes, signals,
orders and their reports, fills, closed trades, headroom, breaker transitions and the desk's
status, one message each. A Lua script numbers them from one counter (``octet:seq``), keeps the
last ``window`` in a Redis stream (``octet:stream``, entry id ``<seq>-0``: what a client that
reconnects missed) and publishes each on the channel ``octet:stream``, all in one atomic step: the
numbers are gap-free and in the order every subscriber sees. ``octet:epoch`` changes when the
counter starts afresh (a Redis that lost its data, or that came back from an older snapshot: the
counter is then below the last number this publisher was given), so a client's old number is
never mistaken for a new one. Each batch carries the publisher's id and number, and the script
applies a batch once: a publish whose reply was lost is retried without sending it twice. Quotes and headroom are throttled (the latest per instrument or account, at most
one every ``throttle_ms``); the rest are sent as they are.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select

from cluster.storage import models as m
from cluster.storage.rows import (
    breaker_row,
    equity_row,
    fill_row,
    headroom_row,
    json_safe,
    jsonable,
    order_row,
    position_rows,
    report_row,
    signal_row,
    stored,
    trade_row,
)
from trading.breaker import BreakerEvent, Tier
from trading.compliance import Headroom
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.orders import ExecutionReport, Order, Signal

PREFIX = "octet:"
HASHES = ("quotes", "accounts", "headroom", "breaker", "heartbeats")
STREAM = "octet:stream"  # the window of numbered messages (a Redis stream) and their channel
SEQ, EPOCH, APPLIED = "octet:seq", "octet:epoch", "octet:stream:applied"
TOPICS = ("quotes", "signals", "orders", "fills", "trades", "headroom", "breaker", "desk")
THROTTLED = ("quotes", "headroom")

# KEYS: seq, stream, epoch, applied. ARGV: channel, window, publisher id, batch number, the last seq
# this publisher was given, then each message as a JSON object's members (without its opening
# brace). Returns the last number given (-1: this publisher's batch was applied already, a retry).
NUMBER_AND_SEND = """
local applied = redis.call('HGET', KEYS[4], ARGV[3])
if applied and tonumber(applied) >= tonumber(ARGV[4]) then
  return -1
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[1])
end
local t = redis.call('TIME')
local at = t[1] .. string.format('%06d', tonumber(t[2]))
local seq = 0
for i = 6, #ARGV do
  seq = redis.call('INCR', KEYS[1])
  if seq == 1 then
    redis.call('DEL', KEYS[2])
    redis.call('SET', KEYS[3], at)
  end
  local msg = '{"seq":' .. seq .. ',"at_us":' .. at .. ',' .. ARGV[i]
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'm', msg)
  redis.call('PUBLISH', ARGV[1], msg)
end
redis.call('SET', KEYS[3], at, 'NX')
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], 86400)
return seq
"""


def _dump(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)


def account_doc(equity: Mapping[str, Any], positions: list[dict[str, Any]]) -> str:
    """An account as the view shows it: its equity row and its open positions (by position id),
    from a snapshot or from the rows the store holds."""
    ordered = sorted(positions, key=lambda p: p["position_id"])
    return _dump({**jsonable(dict(equity)), "positions": [jsonable(p) for p in ordered]})


def quote_fields(registry: InstrumentRegistry, symbol: str, ts_ns: int, bid: int, ask: int) -> dict[str, Any]:
    inst = registry[symbol]
    return {"ts_ns": ts_ns, "bid": str(inst.price_from_points(bid)), "ask": str(inst.price_from_points(ask))}


def quote_doc(registry: InstrumentRegistry, symbol: str, ts_ns: int, bid: int, ask: int) -> str:
    return _dump(quote_fields(registry, symbol, ts_ns, bid, ask))


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
    @property
    def final(self) -> bool: ...
    @property
    def ticks(self) -> int: ...
    @property
    def signals(self) -> Sequence[Signal]: ...
    @property
    def orders(self) -> Sequence[Order]: ...
    @property
    def reports(self) -> Sequence[ExecutionReport]: ...
    @property
    def trades(self) -> Sequence[ClosedTrade]: ...
    @property
    def notes(self) -> Sequence[tuple[str, int, Mapping[str, Any]]]: ...


def message(topic: str, data: Mapping[str, Any], account: str | None = None, **extra: Any) -> str:
    """One stream message's members, without the number and time the script puts first."""
    doc = {"topic": topic, "account": account, **extra, "data": json_safe(jsonable(dict(data)))}
    return _dump(doc)[1:]


def record_messages(run_id: str, registry: InstrumentRegistry, r: LiveFacts) -> list[tuple[str, str, str]]:
    """A batch's record as stream messages: (topic, throttle key, members): its signals, orders,
    their reports and fills, closed trades, breaker transitions and the desk's notes, then its end
    state (headroom, quotes, the desk's progress), which ``Throttle`` sends after the rest."""
    out: list[tuple[str, str, str]] = []
    for sig in r.signals:
        out.append(("signals", "", message("signals", signal_row(sig), run_id=run_id)))
    for o in r.orders:
        out.append(("orders", "", message("orders", {**order_row(o), "status": "new"}, o.account_id,
                                          run_id=run_id, kind="order")))
    for x in r.reports:
        out.append(("orders", "", message("orders", report_row(x), x.account_id, run_id=run_id, kind="report")))
        if x.fill is not None:
            out.append(("fills", "", message("fills", fill_row(x), x.account_id, run_id=run_id)))
    for tr in r.trades:
        out.append(("trades", "", message("trades", trade_row(tr), tr.account_id, run_id=run_id)))
    for a, h in sorted(r.latest_headroom.items()):
        out.append(("headroom", a, message("headroom", headroom_row(h), a, run_id=run_id)))
    for e in r.breaker_events:
        out.append(("breaker", "", message("breaker", breaker_row(e), e.scope if e.tier is Tier.ACCOUNT else None,
                                           run_id=run_id)))
    for symbol, q in sorted(r.last_quotes.items()):
        out.append(("quotes", symbol, message("quotes", {"symbol": symbol, **quote_fields(registry, symbol, *q)},
                                              run_id=run_id)))
    for kind, ts_ns, payload in r.notes:
        if kind in ("desk", "desk_stop", "desk_resume", "operator", "reconcile", "warning"):
            out.append(("desk", "", message("desk", {"event": kind, "ts_ns": ts_ns, **payload}, run_id=run_id)))
    out.append(("desk", "progress", message("desk", {"event": "end" if r.final else "progress", "batch": r.batch,
                                                     "ticks": r.ticks}, run_id=run_id)))
    return out


class Throttle:
    """The latest message per key of a throttled topic, sent at most once every ``seconds``: one that
    comes sooner waits for a later batch (and is replaced by a newer one); the end of a session
    sends everything waiting."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: dict[tuple[str, str], float] = {}
        self.waiting: dict[tuple[str, str], str] = {}

    def pick(self, messages: Sequence[tuple[str, str, str]], final: bool = False,
             now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        out: list[str] = []
        for topic, key, body in messages:
            if topic in THROTTLED or (topic == "desk" and key == "progress"):
                self.waiting[(topic, key)] = body
            else:
                out.append(body)
        gap = self.seconds if self.seconds > 0 else 0.0
        for k in list(self.waiting):
            if final or now - self.sent.get(k, -1e18) >= max(gap, 1.0 if k[0] == "desk" else 0.0):
                out.append(self.waiting.pop(k))
                self.sent[k] = now
        return out


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
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (topic, throttle key, members)
    final: bool = False

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
        """What a batch's record changes in the view, and its stream messages."""
        p = Publication.of(run_id, r.batch, registry, r.last_quotes, r.snapshots, r.latest_headroom,
                           r.breaker_events, r.heartbeats)
        p.messages = record_messages(run_id, registry, r)
        p.final = r.final or any(kind == "desk_stop" for kind, _, _ in r.notes)  # what waits goes now
        return p


class MemoryLive:
    """The live view in this process (embedded mode)."""

    def __init__(self, throttle_ms: int = 250, window: int = 1000) -> None:
        self.state: dict[str, dict[str, str]] = {h: {} for h in HASHES}
        self.run_id = ""
        self.throttle = Throttle(throttle_ms / 1000)
        self.window = window
        self.seq = 0
        self.messages: list[str] = []  # the last ``window`` stream messages, numbered
        self.errors = 0  # (always 0: the same counters as RedisLive's, which can fail)
        self.last_error = ""
        self.rebuilds = 0

    def publish(self, p: Publication, store: Any = None) -> None:
        self.run_id = p.run_id
        for h in HASHES:
            self.state[h].update(getattr(p, h))
        for body in self.throttle.pick(p.messages, p.final):
            self.seq += 1
            self.messages.append(f'{{"seq":{self.seq},"at_us":{time.time_ns() // 1000},{body}')
        del self.messages[:-self.window]

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {h: dict(v) for h, v in self.state.items()}

    def close(self) -> None:
        pass


class RedisLive:
    """The live view in Redis: one pipeline (one round trip) per batch."""

    def __init__(self, url: str, registry: InstrumentRegistry, throttle_ms: int = 250, window: int = 10_000) -> None:
        import redis

        self.url = url
        self.registry = registry
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0,
                                           decode_responses=True)
        self.send = self.client.register_script(NUMBER_AND_SEND)
        self.throttle = Throttle(throttle_ms / 1000)
        self.window = window
        self.sent = 0  # stream messages sent
        self.publisher = secrets.token_hex(6)
        self.batch_no = 0
        self.last_seq = 0  # the last number the script gave this publisher
        self.unsent: list[tuple[int, list[str]]] = []  # batches a failed publish may not have sent: retried first
        self.restart_stream = False  # more than a window was lost: number afresh (a new epoch)
        self.errors = 0
        self.rebuilds = 0
        self.last_error = ""

    def publish(self, p: Publication, store: Any = None) -> None:
        import redis

        fresh = self.throttle.pick(p.messages, p.final)
        if fresh:
            self.batch_no += 1
            self.unsent.append((self.batch_no, fresh))
        while sum(len(b) for _, b in self.unsent) > self.window:  # a client could not get them from the window
            self.unsent.pop(0)
            self.restart_stream = True
        try:
            if store is not None and self.client.get(PREFIX + "run") != p.run_id:
                self.rebuild(store, p.run_id)  # Redis restarted empty (or another run was shown)
            pipe = self._put(self.client.pipeline(transaction=True), p)
            if self.restart_stream:
                pipe.delete(SEQ)  # the next number is 1: a new epoch, and clients are told to reload
            for number, bodies in self.unsent:
                self.send(keys=[SEQ, STREAM, EPOCH, APPLIED], client=pipe,
                          args=[STREAM, self.window, self.publisher, number, 0 if self.restart_stream else self.last_seq,
                                *bodies])
            results = pipe.execute()
            given = [r for r in results[-len(self.unsent):] if isinstance(r, int) and r > 0] if self.unsent else []
            self.last_seq = max(given) if given else self.last_seq
            self.sent += sum(len(b) for _, b in self.unsent)
            self.unsent = []
            self.restart_stream = False
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
