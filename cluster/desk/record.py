"""One record per batch, and the session's result as a fold over them.

The driver gathers what one batch produced in a ``BatchLog`` and seals it into an immutable
``BatchRecord``, which it hands to each sink (the store, the Kafka publisher, the live view) and
then folds into the ``SessionResult``. No sink keeps a cursor into the driver's state, and the
result keeps counts and small summaries, not the facts: the driver's memory stays flat however
long the session runs. A session made with ``keep_records=True`` (tests, short runs) also keeps
every record, and the result's lists (``orders``, ``trades``, ...) are read from them.

The sinks see a record structurally (``cluster.storage.store.BatchFacts``,
``cluster.adapters.kafka.bus.PublishedFacts``, ``cluster.adapters.live.LiveFacts``): storage and
the adapters sit below the desk and import nothing from it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from trading.breaker import BreakerEvent
from trading.compliance import Headroom
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.orders import ExecutionReport, Order, Signal
from trading.performance import PerformanceSummary
from trading.wyckoff import WyckoffEvent

KEPT_DISCREPANCIES = 1000  # the result keeps the first ones and counts the rest


@dataclass(frozen=True, slots=True)
class Decision:
    """One step's verdict for one account, as the audit trail keeps it."""

    signal_id: str
    account_id: str
    step: str
    outcome: str  # "pass", "veto", "scaled", "sent", or the venue's refusal ("rejected", "expired", ...)
    rule: str
    reason: str
    numbers: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """What one batch produced (``final``: the end of the session, its flatten and last reconcile)."""

    batch: int  # 1-based; the end of the session is batches + 1
    final: bool
    ticks: int  # ticks of the session replayed up to the end of this batch
    signals: tuple[Signal, ...]
    events: tuple[WyckoffEvent, ...]
    decisions: tuple[Decision, ...]
    orders: tuple[Order, ...]  # those the venue took, once each
    reports: tuple[ExecutionReport, ...]
    trades: tuple[ClosedTrade, ...]
    headroom: tuple[Headroom, ...]  # the batch's lows, then every account's at its end, by account (none at the end)
    breaker_events: tuple[BreakerEvent, ...]
    snapshots: Mapping[str, AccountSnapshot]  # every account as of the batch's end
    latest_headroom: Mapping[str, Headroom]  # the headroom the live view shows
    last_quotes: Mapping[str, tuple[int, int, int]]  # symbol -> (ts_ns, bid, ask) in points
    heartbeats: Mapping[str, Mapping[str, Any]]  # agent counters, on heartbeat batches
    dead_letters: tuple[str, ...]  # one reason per dead letter
    tick_to_order_ms: tuple[float, ...]  # one per order, in ``orders``' order
    halt_latency_ms: tuple[float, ...]  # breaker review start -> rust_exec halted
    halt_rpc_ms: tuple[float, ...]  # of which the Halt call itself
    discrepancies: tuple[str, ...]  # the desk's books against rust_exec's
    saga_ms: tuple[float, ...] = ()  # one per saga that reached an agent: its first call to its end
    # audit records of their own: an operator's control (with who asked), a reconciliation's
    # resolved difference (both sides and what was done), a desk's start, stop and resume
    notes: tuple[tuple[str, int, Mapping[str, Any]], ...] = ()  # (kind, ts_ns, payload)
    # accounts as they stood inside the batch: after each fill that closed a trade, and at each of the
    # firms' instants (day resets): with ``snapshots`` the equity curve a report's daily figures need
    equity: tuple[AccountSnapshot, ...] = ()
    # signal id -> what the desk knew at the signal besides it (trading.trust.Context), kept with the signal
    contexts: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)


class BatchLog:
    """What the driver gathers while a batch runs (a new one per batch); ``seal`` makes its record."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self.events: list[WyckoffEvent] = []
        self.decisions: list[Decision] = []
        self.orders: list[Order] = []
        self.reports: list[ExecutionReport] = []
        self.trades: list[ClosedTrade] = []
        self.breaker_events: list[BreakerEvent] = []
        self.dead_letters: list[str] = []
        self.tick_to_order_ms: list[float] = []
        self.halt_latency_ms: list[float] = []
        self.halt_rpc_ms: list[float] = []
        self.discrepancies: list[str] = []
        self.notes: list[tuple[str, int, Mapping[str, Any]]] = []
        self.saga_ms: list[float] = []
        self.contexts: dict[str, dict[str, float | None]] = {}
        self.equity: list[AccountSnapshot] = []
        self.headroom_lows: dict[tuple[str, str], Headroom] = {}  # (account, field) -> the batch's lowest

    def headroom_seen(self, headrooms: Mapping[str, Headroom]) -> None:
        """Keep, by account, the refresh with the batch's lowest worst-case daily and max-loss headroom: the batch
        records them beside its end, so a low inside a batch is never lost (a report's closest call, its curve)."""
        for acc, h in headrooms.items():
            for name in ("worst_case_daily_headroom", "worst_case_max_loss_headroom"):
                value, kept = getattr(h, name), self.headroom_lows.get((acc, name))
                if value is not None and (kept is None or value < getattr(kept, name)):
                    self.headroom_lows[(acc, name)] = h

    def _headroom_rows(self, headrooms: Mapping[str, Headroom]) -> tuple[Headroom, ...]:
        """The batch's lows (those that are not its end) in time order, then every account's at its end."""
        end = [headrooms[a] for a in sorted(headrooms)]
        lows: list[Headroom] = []
        for h in self.headroom_lows.values():
            if not any(h == e for e in end) and not any(h is k for k in lows):
                lows.append(h)
        return (*sorted(lows, key=lambda h: (h.ts_ns, h.account_id)), *end)

    def seal(self, batch: int, ticks: int, *, snapshots: Mapping[str, AccountSnapshot],
             headrooms: Mapping[str, Headroom], record_headroom: bool = True,
             last_quotes: Mapping[str, tuple[int, int, int]] | None = None,
             heartbeats: Mapping[str, Mapping[str, Any]] | None = None, final: bool = False) -> BatchRecord:
        return BatchRecord(
            batch, final, ticks, tuple(self.signals), tuple(self.events), tuple(self.decisions),
            tuple(self.orders), tuple(self.reports), tuple(self.trades),
            self._headroom_rows(headrooms) if record_headroom else (),
            tuple(self.breaker_events), MappingProxyType(dict(snapshots)), MappingProxyType(dict(headrooms)),
            MappingProxyType(dict(last_quotes or {})),
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in (heartbeats or {}).items()}),
            tuple(self.dead_letters), tuple(self.tick_to_order_ms), tuple(self.halt_latency_ms),
            tuple(self.halt_rpc_ms), tuple(self.discrepancies), tuple(self.saga_ms), tuple(self.notes),
            tuple(self.equity), MappingProxyType(dict(self.contexts)))


class LatencyHistogram:
    """Latencies in buckets 1% wide (log scale): count, mean, max and percentiles within 1%, in
    memory that does not grow with the count."""

    STEP = math.log(1.01)

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, ms: float) -> None:
        self.buckets[math.floor(math.log(max(ms, 1e-6)) / self.STEP)] += 1
        self.count += 1
        self.total += ms
        self.max = max(self.max, ms)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def percentile(self, q: float) -> float:
        """The latency of rank ``round(q * (count - 1))`` (as ``bench.common.percentile``), as the
        middle of its bucket."""
        if not self.count:
            return float("nan")
        rank = min(self.count - 1, int(round(q * (self.count - 1))))
        seen = 0
        for k in sorted(self.buckets):
            seen += self.buckets[k]
            if seen > rank:
                return min(math.exp((k + 0.5) * self.STEP), self.max)
        return self.max


class RecordsNotKept(LookupError):
    """A list of the session's facts was asked for, and the session did not keep its records."""


@dataclass
class SessionResult:
    """The end of a run: counts and aggregates folded from every batch record, the summaries the
    agents give at the end, and, with ``keep_records``, the records themselves."""

    run_id: str
    ticks: int
    batches: int
    elapsed_s: float  # the loop: from the first batch to the last record (start-up is not in it)
    counts: Counter[str] = field(default_factory=Counter)  # signals, orders, trades, ... of the whole run
    wall_s: float = 0.0  # the command's, from reading the data to the summary (0: not measured)
    dead_letters: Counter[str] = field(default_factory=Counter)
    vetoes_by_rule: Counter[str] = field(default_factory=Counter)  # "step:rule"
    tick_to_order: LatencyHistogram = field(default_factory=LatencyHistogram)
    saga: LatencyHistogram = field(default_factory=LatencyHistogram)
    halt_latency_ms: list[float] = field(default_factory=list)  # one per system halt
    halt_rpc_ms: list[float] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)  # the first KEPT_DISCREPANCIES
    summaries: dict[str, PerformanceSummary] = field(default_factory=dict)
    compliance: dict[str, dict[str, Any]] = field(default_factory=dict)
    agent_stats: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, AccountSnapshot] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    records: list[BatchRecord] | None = None  # every batch's record, when the session keeps them

    def add(self, r: BatchRecord) -> None:
        """Fold one batch's record in."""
        for name in ("signals", "events", "decisions", "orders", "reports", "trades", "headroom",
                     "breaker_events", "discrepancies"):
            self.counts[name] += len(getattr(r, name))
        self.dead_letters.update(r.dead_letters)
        self.vetoes_by_rule.update(f"{d.step}:{d.rule}" for d in r.decisions if d.outcome == "veto")
        for ms in r.tick_to_order_ms:
            self.tick_to_order.add(ms)
        for ms in r.saga_ms:
            self.saga.add(ms)
        self.halt_latency_ms.extend(r.halt_latency_ms)
        self.halt_rpc_ms.extend(r.halt_rpc_ms)
        room = KEPT_DISCREPANCIES - len(self.discrepancies)
        self.discrepancies.extend(r.discrepancies[:max(room, 0)])
        if self.records is not None:
            self.records.append(r)

    def _kept(self, name: str) -> list[Any]:
        if self.records is None:
            raise RecordsNotKept(f"SessionResult.{name}: the session did not keep its batch records; make it "
                                 f"with Session(..., keep_records=True), or read result.counts[{name!r}]")
        return [x for r in self.records for x in getattr(r, name)]

    @property
    def signals(self) -> list[Signal]:
        return self._kept("signals")

    @property
    def contexts(self) -> dict[str, Mapping[str, float | None]]:
        """Signal id -> what the desk knew at the signal (as recorded with it)."""
        self._kept("signals")
        return {k: v for r in self.records or [] for k, v in r.contexts.items()}

    @property
    def events(self) -> list[WyckoffEvent]:
        return self._kept("events")

    @property
    def decisions(self) -> list[Decision]:
        return self._kept("decisions")

    @property
    def orders(self) -> list[Order]:
        return self._kept("orders")

    @property
    def reports(self) -> list[ExecutionReport]:
        return self._kept("reports")

    @property
    def trades(self) -> list[ClosedTrade]:
        return self._kept("trades")

    @property
    def breaker_events(self) -> list[BreakerEvent]:
        return self._kept("breaker_events")

    @property
    def headroom(self) -> list[Headroom]:
        return self._kept("headroom")

    @property
    def tick_to_order_ms(self) -> list[float]:
        return self._kept("tick_to_order_ms")
