"""A trading session: the path of a tick through the desk, batch by batch.

For each batch: ingress validates and builds bars; the analysis shards look for signals; the
batch's quotes then go to the execution agent in segments cut at each signal's time and at each
account's daily reset, so every saga sees accounts exactly as they stand at its signal, and each
day's reference is taken at the reset itself. The breaker reviews the desk at the batch's end.
Everything is sequential where order matters, so the same ticks give the same orders.

What a batch produced is sealed into one immutable ``BatchRecord`` (``cluster.desk.record``), handed
to each sink (the store, the Kafka publisher, the live view) and folded into the ``SessionResult``;
the driver keeps no list that grows with the run unless asked to keep the records.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from actors.analysis import AnalysisOutput
from actors.breaker import BreakerUpdate
from actors.compliance import FilesRead
from actors.execution import ExecUpdate
from actors.ingress import IngressResult
from actors.shell import MANY
from cluster.adapters.feeds.paced import ReplayFeed
from cluster.adapters.kafka.bus import Publisher
from cluster.adapters.live import MemoryLive, Publication, RedisLive
from cluster.adapters.rust_exec import inprocess
from cluster.adapters.rust_exec.client import ExecUnavailable, GrpcExecutionClient
from cluster.adapters.rust_exec.inprocess import InProcessExecService
from cluster.adapters.rust_exec.process import ExecService, exec_credentials
from cluster.config.secrets import private_dir, state_key
from cluster.config.settings import Settings
from cluster.desk import runtime as rt
from cluster.desk.record import BatchLog, BatchRecord, Decision
from cluster.desk.record import SessionResult as SessionResult
from cluster.desk.saga import SagaContext, actor_caller, run_saga, warm_up
from cluster.desk.topology import KafkaSource, Topology, build
from cluster.desk.trust import TrustGate
from cluster.storage.registry import ModelRegistry
from cluster.storage.store import RunEnd, SessionStore, start_record
from cluster.storage.timeseries import TimeSeries
from trading.breaker import NEVER, AgentHealth, DeskHealth, SpreadWatch, Tier, silences
from trading.closures import MarketClosures
from trading.compliance import Headroom, news_flat_instants
from trading.feed import Feed
from trading.intrabar import quote_spacing_ns
from trading.ledger import AccountSnapshot, done_orders
from trading.market import NS_PER_S, Bar, TickBatch, fx_open_ns, utc_text
from trading.money import plain_numbers
from trading.news import NewsCalendar
from trading.orders import Order, OrderStatus, Signal
from trading.strategies.sma_cross import SETUP as SMA_CROSS

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What the session reports after each batch (counts of the whole run so far)."""

    batch: int
    batches: int
    ticks: int
    signals: int
    orders: int
    trades: int
    elapsed_s: float
    record: BatchRecord  # the batch's own


def _last_quotes(clean: TickBatch, registry: Any) -> dict[str, tuple[int, int, int]]:
    """The last quote of each instrument in the batch, by symbol: (ts_ns, bid, ask) in points."""
    return {registry.by_index(i).symbol: q for i, q in clean.last_quotes().items()}


OPERATOR_VENUE_HALT = "the desk halted by an operator"  # how rust_exec's halt reason starts when it is the operator's
SYSTEM_BREAKER_HALT = "system breaker: "  # ... and when it is the desk's system breaker's


def _digest(path: Path) -> str | None:
    """A file's content, hashed (None: not a regular file of at most 64 MiB that can be read): the same bytes written
    again are no change. Opened without blocking and checked on what was opened (a pipe put there never stalls)."""
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > 64 << 20:
                return None
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        except OSError:
            return None
    return h.hexdigest()


def desks_own(reason: str) -> bool:
    """Whether rust_exec's halt reason is the desk's own (its operator's lock or its system breaker's)."""
    return reason.startswith((OPERATOR_VENUE_HALT, SYSTEM_BREAKER_HALT))


def _cause(exc: BaseException) -> str:
    """The message of the error behind a Ray task error, in one line."""
    cause = getattr(exc, "cause", None) or exc
    return str(cause).strip().splitlines()[-1][:200]


class _HealthLog:
    """What the breaker's next review should see, gathered while a batch runs."""

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.agents: dict[str, AgentHealth] = {}
        self.kill_switch = ""
        self.venue_error = ""
        self._spreads: list[tuple[str, int, float]] = []  # blowouts: (symbol, spread, reference)
        self._losses: list[tuple[str, bool, int]] = []  # (account, lost, closed at)
        self._slips: list[tuple[str, int, int]] = []  # (account, adverse points, filled at)
        self._rejects: list[tuple[str, int]] = []  # (account, refused at)
        self._differ: list[str] = []

    def blown(self, blowouts: list[tuple[str, int, float]]) -> None:
        self._spreads.extend(blowouts)

    def book(self, update: ExecUpdate, sent: dict[str, Order], registry: Any) -> None:
        self._differ.extend(update.discrepancies)
        for t in update.trades:
            self._losses.append((t.account_id, t.pnl < 0, t.closed_ns))
        for r in update.reports:
            order = sent.get(r.client_order_id)
            if r.status is OrderStatus.REJECTED:
                self._rejects.append((r.account_id or (order.account_id if order else ""), r.ts_ns))
            if r.fill is not None and order is not None and r.fill.kind.value == "open":
                inst = registry[order.symbol]
                slip = (inst.points(r.fill.price) - inst.points(order.reference_price)) * int(order.side)
                self._slips.append((order.account_id, max(slip, 0), r.fill.ts_ns))

    def stamped(self, at: int) -> None:
        """A log saved before trades, fills and refusals carried their times: those it holds, at ``at``."""
        self._losses = [x if len(x) == 3 else (*x, at) for x in self._losses]
        self._slips = [x if len(x) == 3 else (*x, at) for x in self._slips]
        self._rejects = [x if isinstance(x, tuple) else (x, at) for x in self._rejects]

    def pending(self) -> bool:
        """Whether anything the breaker judges came since its last review (beyond spreads and time)."""
        return bool(self._losses or self._slips or self._rejects or self._differ or self.venue_error
                    or self.kill_switch or self.errors or self.agents)

    def take(self) -> DeskHealth:
        agents = dict(self.agents)
        for name, n in self.errors.items():  # errors seen between heartbeats count at the next review
            if name not in agents:
                agents[name] = AgentHealth(errors=n)
        health = DeskHealth(tuple(self._spreads), tuple(self._losses), tuple(self._slips), tuple(self._rejects),
                            tuple(sorted(agents.items())), not self.venue_error, self.venue_error,
                            self.kill_switch, tuple(self._differ))
        self.venue_error = ""
        self._spreads, self._losses, self._slips, self._rejects, self._differ = [], [], [], [], []
        self.agents = {}
        self.errors.clear()
        return health


# Before a saga the breaker reviews the desk if this much market time passed since its last review
# (or a trade, fill or refusal came since): in a backtest's batches (minutes of market time) before
# every saga, on a live desk (batches of milliseconds) only when something happened.
REVIEW_BEFORE_SAGA_NS = 1_000_000_000

DAY_NS = 86_400 * NS_PER_S

CONTROLS = ("halt", "resume", "flatten", "ack", "reload")  # what an operator may ask of a running desk
FUTURE_SKEW_S = 5.0  # a request stamped further ahead than this is refused (its age could not expire)


# What the agents save changes shape now and then (issue 19, nine times: the Wyckoff detector's state); a run
# is resumed only by code that reads its shape. Bump it with such a change
# (tests/trading/test_wyckoff.py pins the detector's part).
STATE_FORMAT = 19  # 19: the desk keeps the alerts it raised ahead of a firm's deadline
# 18: a firm's size limits gained scaling (Topstep's scaling plan)
# 17: a firm's rules gained activity (inactivity), an account's rules its last entry
# 16: a firm's holding rules gained max_break_minutes (market closures)


class ResumeRefused(RuntimeError):
    """A run that cannot be resumed with these settings (another feed, other accounts) or by this
    version of Octet (its agents' state saved in another shape)."""


class DeskPort(Protocol):
    """What a long-running desk adds to a session (``cluster.desk.desk.DeskFiles``): where the
    driver's checkpoint and the intents of the units begun since are kept, and the operator's requests."""

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The last checkpoint and the intents of the units begun after it, in order (None, [] for a
        new desk)."""
        ...

    def save(self, state: dict[str, Any]) -> None:
        """A checkpoint; the intents it covers are dropped."""
        ...

    def intend(self, intent: dict[str, Any]) -> None:
        """A unit's intent, written before the unit begins (kept until a checkpoint covers it)."""
        ...

    def requests(self) -> list[dict[str, Any]]:
        """Operators' requests waiting (halt, resume, flatten), oldest first."""
        ...

    def answer(self, request: dict[str, Any], outcome: str) -> None: ...

    def after_unit(self, status: Callable[[], dict[str, Any]]) -> None:
        """After each unit (``status`` builds what `octet desk status` shows, if it is wanted)."""
        ...


RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Session:
    """Runs ticks through a topology. ``on_batch`` is called after every batch (progress, chaos).
    With ``keep_records`` the result keeps every batch's record, and its lists (``orders``,
    ``trades``, ...) can be read; without, it holds counts and summaries only (a long run)."""

    def __init__(self, settings: Settings, store: SessionStore | None = None, run_id: str | None = None,
                 on_batch: Callable[[Progress, Topology], None] | None = None,
                 live: MemoryLive | RedisLive | None = None, keep_records: bool = False,
                 desk: DeskPort | None = None, requested: dict[str, Any] | None = None, in_process: bool = False) -> None:
        self.settings = settings
        # the instruments rust_exec lets each account trade, where its limits name them (else every one)
        self.venue_symbols = {a.id: tuple(a.limits.instruments) for a in settings.accounts if a.limits.instruments}
        self.in_process = in_process  # the agents in this process, not on Ray (the backtest: no Ray at all)
        self.requested = requested  # a session started through the API: who asked, and for what (audited)
        self.stopped_by: dict[str, str] | None = None  # who stopped it (``stop``; audited)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        if not RUN_ID.fullmatch(self.run_id):  # it names directories under data_dir (state/, exec/)
            raise ValueError(f"a run id is 1-64 letters, digits, '-' or '_', not {self.run_id!r}")
        self.store = store
        self.live = live
        self.series: TimeSeries | None = None
        self.kafka: KafkaSource | None = None
        self.publisher: Publisher | None = None
        self.acked: dict[str, int] = {}  # what the store has made durable, after each batch
        self.on_batch = on_batch
        self.keep_records = keep_records
        self.stop_requested = threading.Event()  # set by stop(): no new batch; the one under way ends
        self.saved: tuple[dict[str, Any] | None, list[dict[str, Any]]] = (None, [])
        self.exec_address = ""
        self.desk = desk  # a long-running desk's checkpoints, controls and status (cluster.desk.desk)
        self.units = 0  # units of work done: batches, time's work with no tick, controls
        self.durable_unit = 0  # the last unit the store held when this desk resumed
        self.operator_halts: dict[str, tuple[str, str]] = {}  # account or "*" -> (who, reason)
        self.handled: dict[str, str] = {}  # request id -> its answer, of the last HANDLED_KEPT carried out
        self.control_outcome = ""
        self.phases: dict[str, float] = {}  # start-up: when each part was up (time.time())
        self.stages: dict[str, float] = {}  # where the loop's time goes: seconds by stage (``_lap``)
        self.lapped = time.perf_counter()
        self.identity: dict[str, Any] = {}  # a desk's feed, accounts and instruments (checked at a resume)
        self.log = BatchLog()  # what the batch under way has produced so far
        self.registry = settings.registry()
        self.account_ids = [a.id for a in settings.accounts]
        self.rules = {a.id: settings.firm_rules(a) for a in settings.accounts}
        # the news calendar, where a firm closes accounts before a news window: the desk cuts there
        calendar = settings.agents.compliance.news_calendar
        # read where a firm has a news rule: the flat-by instants before a window, the alerts of its end (_warn)
        self.with_news = any(r.news.active for r in self.rules.values())
        self.news = NewsCalendar.from_csv(Path(calendar), settings.agents.compliance.news_calendar_tz) \
            if calendar and self.with_news else NewsCalendar()
        self.currencies = frozenset(c for s in self.registry for c in (self.registry[s].base, self.registry[s].quote))
        # the market closures: a silence there is no stale feed, and where a firm closes accounts before
        # a long break the desk cuts there too
        breaks = settings.agents.compliance.market_closures
        self.closures = MarketClosures.from_csv(Path(breaks)) if breaks else MarketClosures()
        self.closed = {s: self.closures.spans((s,)) for s in self.registry.symbols}
        # setups whose opposite signal closes an open position (strategy.sma_cross.close_on_opposite)
        self.reversing = {SMA_CROSS} if settings.strategy.sma_cross.close_on_opposite else set()
        self.snapshots: dict[str, AccountSnapshot] = {}
        self.mids: dict[str, Decimal] = {}
        self.headrooms: dict[str, Headroom] = {}
        self.clock = 0  # the instant the desk last advanced to: the next batch's cuts start after it
        self.blocked: frozenset[str] = frozenset()
        self.reduced: frozenset[str] = frozenset()  # the breaker halves these accounts' risk
        self.system_open = False
        self.desk_halted = False
        self.venue_halted = False  # rust_exec refuses new orders (as its last reply said)
        self.pending_halt = ""
        self.pending: list[tuple[str, Any]] = []  # (agent, reference) of book-keeping calls not yet settled
        self.later: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}  # agent -> calls held until the batch's sagas are done
        self.risk_trades: list[Any] = []  # risk.on_trades in flight: done before the next sizing
        self.reviewed_at = 0  # market time of the breaker's last review
        self.breaker_due = NEVER  # when, as of that review, a breaker's next move falls due
        self.warned: dict[str, tuple[int, str]] = {}  # the alerts raised ahead of a firm's deadline that stand (_warn)
        self._leads: dict[int, int] = {}  # an inactivity alert's lead by deadline (_idle_lead)
        self._all_closed: tuple[tuple[int, int], ...] | None = None  # breaks closing every instrument (_open_ns)
        # the files a running desk reads again at `octet desk reload` (_reload), and watches for a change it has not
        # read (_watch): each one's signature and content's digest as read, as the watch's last round found them,
        # those changed on disk since the read (how, at which signature), when to look next, why one was refused
        self.watched: dict[str, tuple[int, int, int] | None] = {}
        self.seen: dict[str, tuple[int, int, int] | None] = {}
        self.digests: dict[str, str | None] = {}
        self.on_disk: dict[str, tuple[str, tuple[int, int, int] | None]] = {}
        self._mark_read()
        self.watch_at = 0.0
        self.file_errors: dict[str, str] = {}
        self.last_tick: dict[str, int] = {}  # each instrument's last tick the breaker has seen
        self.spreads = SpreadWatch(settings.agents.breaker.spread_blowout)  # where a spread blows out
        self.spacing: dict[str, int] = {}  # instruments given as bars: how long each quote stands for (ns)
        self.unlearned: list[tuple[int, Bar]] = []  # the batch's bars not yet in the correlation window, by where known
        self.sent: dict[str, Order] = {}  # orders a report may still concern (see trading.ledger.done_orders)
        self.health = _HealthLog()
        self.ignored: frozenset[str] = frozenset()
        self.agent_seen: dict[str, dict[str, Any]] = {}
        # the audit records the store committed since the last publish, for the audit topic
        self.audit_out: list[tuple[list[dict[str, Any]], dict[str, Any] | None]] = []
        # the champion model of which signals to trust, when there is one (learning.*)
        self.trust = TrustGate(settings, ModelRegistry(store.engine, settings.models_path()) if store else None)

    def run(self, source: TickBatch | Feed) -> SessionResult:
        """Run the desk on ``source`` until it ends or ``stop()`` is called: a feed (paced, live),
        or a batch of ticks, replayed as fast as the desk takes them (the backtest)."""
        size = self.settings.session.batch_size
        if isinstance(source, TickBatch):
            replay = ReplayFeed(source)
            self.feed: Feed = replay
            ticks: TickBatch | None = replay.ticks  # ties in instrument order (as Kafka's consumers take them)
            expected = (len(source) + size - 1) // size
        else:
            ticks, self.feed, expected = None, source, 0
        known = ticks if ticks is not None else source.ticks if isinstance(source, ReplayFeed) else None
        if known is not None:  # quotes made from bars are a quarter of a bar apart: not a silent feed
            self.spacing = {self.registry.by_index(i).symbol: ns for i, ns in quote_spacing_ns(known).items()}
        data_dir = Path(self.settings.runtime.data_dir)
        for private in ("state", "exec"):  # agents' state and rust_exec's journals: the owner's only
            private_dir(data_dir / private)
        if self.store is not None and self.store.anchors is None:  # every commit's head signed outside the store
            from cluster.storage.anchors import AnchorLog

            self.store.anchors = AnchorLog.for_settings(self.settings)
        state_dir = data_dir / "state" / self.run_id
        address = self.settings.execution.address
        self.exec_service: ExecService | InProcessExecService | None = None
        self.saved = self.desk.load() if self.desk is not None else (None, [])
        was = self.saved[0].get("state_format", 1) if self.saved[0] is not None else STATE_FORMAT
        if was != STATE_FORMAT:  # before any actor reads its saved state
            raise ResumeRefused(f"run {self.run_id} was saved by another version of Octet (agents' state format {was}, "
                                f"this version reads {STATE_FORMAT}): finish it with the version that started it, "
                                "or start a new run (`octet desk start --new`)")
        # a backtest: the agents are in this process, and so is rust_exec's service (no socket)
        backtest_venue = (address is None and self.in_process and self.desk is None
                          and self.settings.execution.backtest_in_process)
        if backtest_venue and not inprocess.available():
            log.warning("rust_exec's in-process module is not built (make setup): this backtest starts octet-exec "
                        "and reaches it over gRPC, which is slower")
            backtest_venue = False
        if backtest_venue:
            self.exec_service = InProcessExecService.for_settings(self.settings, data_dir / "exec" / self.run_id)
            address = self.exec_service.start()
        elif address is None:  # embedded: a rust_exec of this session's own, with its own journal
            # a resumed desk's rust_exec listens where it did: the agents' saved clients connect there
            listen = str(self.saved[0].get("exec_address") or "127.0.0.1:0") if self.saved[0] else "127.0.0.1:0"
            self.exec_service = ExecService.for_settings(self.settings, data_dir / "exec" / self.run_id, listen)
            address = self.exec_service.start()
        self.phases["rust_exec_up"] = time.time()
        self.exec_creds = self.exec_service.credentials() if self.exec_service else exec_credentials(self.settings)
        try:
            state: Path | str = state_dir
            if self.settings.storage.agent_state == "database" and self.store is not None:
                state = self.store.url
            if self.settings.runtime.bus == "kafka":
                if ticks is None:
                    raise ValueError("runtime.bus kafka replays a batch of ticks onto md.ticks: a feed goes to "
                                     "the ingress actors directly (runtime.bus: inprocess)")
                self.kafka, self.publisher = self._kafka_feed(ticks)
            if self.publisher is not None and self.store is not None:  # the audit trail on its topic too
                self.store.audit_sink = lambda rows, anchor: self.audit_out.append((rows, anchor))
            self.exec_address = address
            topo = build(self.settings, state, f"octet-{self.run_id}", address, self.run_id, self.kafka,
                         self.exec_creds, state_key(data_dir), in_process=self.in_process)
            if self.saved[0] is not None:  # a resumed desk: its agents read the files as this session does
                rt.get([ref.handle.reload.remote() for ref in topo.all()])
            self.venue = GrpcExecutionClient(address, self.registry, catch_up=False,  # the breaker's direct line
                                             credentials=self.exec_creds,
                                             reconnect_for=self.settings.execution.reconnect_seconds)
            try:
                result = self._run(topo, self.feed, expected)
            finally:
                topo.shutdown()
                self.venue.close()
                if self.publisher is not None:
                    self.publisher.close()
                if self.store is not None:
                    self.store.audit_sink = None
            result.execution = self._exec_info(address)
            if self.desk is None and state == state_dir and not self.settings.runtime.keep_agent_state \
                    and state_dir.parent == data_dir / "state":
                # the agents' saved state serves Ray's restarts of them during the run, and a desk's resume:
                # a session that is not a desk's and ended has no use for it (one that failed keeps it)
                shutil.rmtree(state_dir, ignore_errors=True)
            return result
        finally:
            if self.exec_service is not None:
                self.exec_service.stop()

    def stop(self, who: str = "", reason: str = "") -> None:
        """Stop after the batch under way (its sagas end, it is booked and recorded): thread-safe.
        ``who`` (an API caller) is recorded in the run's audit trail with ``reason``."""
        if who and self.stopped_by is None:
            self.stopped_by = {"who": who, "reason": reason}
        self.stop_requested.set()

    def _kafka_feed(self, ticks: TickBatch) -> tuple[KafkaSource, Publisher]:
        """The replay onto ``md.ticks`` (topics made first), and where this run's ingress starts."""
        from cluster.adapters.kafka.bus import TICKS, end_offsets, ensure_topics, produce_replay

        k = self.settings.kafka
        access = k.access()
        if access is None:  # the command line starts a local one (cluster.cli.common.with_local_servers)
            raise ValueError("runtime.bus is kafka and kafka.bootstrap is not set: name the broker, or start "
                             "through `octet run`, which starts a local one under data_dir/kafka")
        partitions = ensure_topics(access, k)[TICKS]
        start = end_offsets(access, TICKS, partitions)  # this run's ticks begin here
        produce_replay(access, self.registry, ticks, self.settings.session.batch_size, partitions)
        return KafkaSource(access, f"{k.group}.{self.run_id}", partitions, start), Publisher(access)

    def _emit(self, record: BatchRecord, result: SessionResult, end: RunEnd | None = None,
              durable: bool = True) -> None:
        """Fold a batch's record into the result and hand it to each sink: the store first (the
        batch is durable), then its events and audit records on their topics, then the live view.
        (Not ``durable``: the store has it already, from a driver that died before its checkpoint.)"""
        result.add(record)
        if self.store is not None and durable:
            self.acked = self.store.flush(self.run_id, record, end)
        if self.publisher is not None:
            audit_records, self.audit_out = self.audit_out, []
            self.publisher.publish(self.run_id, record, audit_records)
        if self.live is not None:
            self.live.publish(Publication.of_record(self.run_id, self.registry, record), self.store)

    def _exec_info(self, address: str) -> dict[str, Any]:
        """What rust_exec holds at the end: orders, reports, and where its journal and metrics are."""
        client = GrpcExecutionClient(address, self.registry, credentials=self.exec_creds)
        try:
            h = client.health()
        finally:
            client.close()
        svc = self.exec_service
        return {"address": address, "orders": h.orders, "reports": h.last_seq, "open_positions": h.open_positions,
                "halted": h.halted, "journal": str(svc.journal_dir) if svc else None,
                "metrics": svc.metrics_address if svc else None, "restarts": svc.restarts if svc else 0}

    # -- the hot path -------------------------------------------------------------------------
    def _run(self, topo: Topology, feed: Feed, expected_batches: int) -> SessionResult:
        """The desk's loop, one unit of work at a time: a batch of ticks, time passing with none (a
        reset, the weekend close, a heartbeat), an operator's control. Each unit ends with its
        record emitted and, for a long-running desk, a checkpoint; each begins, for that desk, with
        its intent written down (which ticks, what instant, which request), so a desk whose driver
        died replays the unit it was in exactly, getting the agents' recorded answers back."""
        self.result = result = SessionResult(self.run_id, 0, 0, 0.0, records=[] if self.keep_records else None)
        self.topo = topo
        self.call = actor_caller(topo.agents)
        rt.get([r.handle.info.remote() for r in topo.all()])  # every actor is up before the clock starts
        self.phases["actors_up"] = time.time()
        warm_up()
        self.phases["saga_ready"] = time.time()
        self.started = started = time.perf_counter()
        self.lapped = started  # the stages count from here (start-up is in ``phases``)
        self.expected_batches = expected_batches
        self.commits: list[Any] = []
        self.beat_at = time.perf_counter()
        if self.store is not None and self.settings.storage.record_ticks:
            self.series = TimeSeries(self.store.engine, self.registry)
        self.trust.refresh(force=True)  # the champion model, if there is one (then at most every poll_seconds)
        self._model_notes()
        size = self.settings.session.batch_size
        linger = self.settings.session.linger_ms / 1000
        idle = self.settings.desk.idle_ms / 1000
        saved, intents = self.saved
        if self.desk is not None:  # what a resumed run must be the same on (a hash of every tick: once a run)
            self.identity = self._identity(feed)
        if saved is None:
            if self.store is not None:
                self.store.begin_run(self.run_id, self.settings, feed.now_ns(), self.requested)
            self.units = 0
            self._checkpoint(feed)  # unit 0: the state before any call (what a first unit replays from)
            self._unit({"kind": "start", "now_ns": feed.now_ns()}, feed)
        else:
            self._restore(saved, feed)
            result = self.result
            reread = False  # a reload replayed gives the desk the answer recorded before: the agents read the files
            for intent in intents:  # the units begun after the checkpoint, the last the one the driver died in
                if intent.get("unit") != self.units + 1:
                    break
                self._unit(intent, feed, replay=True)
                reread |= intent.get("kind") == "control" and (intent.get("request") or {}).get("action") == "reload"
            self.log.notes.append(("desk_resume", self.clock, {"run_id": self.run_id, "ticks": feed.position,
                                                               "units": self.units}))
            self._settle_with_venue(feed)
            if reread:  # as they are now at this resume (actors.shell reload): the desk takes them as they do
                self._unit({"kind": "control", "request": {"id": "", "action": "reload", "account": "", "who": "desk",
                                                           "reason": "resumed after a reload was replayed"}}, feed)
        while not self.stop_requested.is_set():
            self._lap("driver")
            if self.desk is not None:
                for request in self.desk.requests():  # an operator's control: a unit of its own
                    refused = self._vet(request)
                    if refused is None:
                        self._unit({"kind": "control", "request": request}, feed)
                    else:
                        self.desk.answer(request, refused)
            if self.desk is not None:
                self._watch()  # a file changed on disk and not read: an alert at the next review
            batch_start = feed.position
            self._lap("requests")
            batch = feed.poll(size, linger, idle)
            self._lap("poll")
            # heartbeats: on a desk every heartbeat_seconds (its batches may be a few ticks each), in
            # a replay every heartbeat_every_batches batches
            if self.desk is not None:
                beat = time.perf_counter() - self.beat_at >= self.settings.desk.heartbeat_seconds
            else:
                beat = bool(len(batch)) and self.result.batches % self.settings.agents.breaker.heartbeat_every_batches == 0
            if len(batch):
                self._unit({"kind": "batch", "start": batch_start, "end": feed.position, "beat": beat}, feed, batch)
            elif feed.ended:
                break
            else:
                now = feed.now_ns()
                if beat or self._instants(self.clock, now):
                    self._unit({"kind": "idle", "now_ns": now, "beat": beat}, feed)
        # The run ends with its feed (or its stop, without a desk), flat; a desk that is stopped keeps
        # its positions for its restart.
        run_ends = self.desk is None or feed.ended
        if self.stopped_by is not None:
            self.log.notes.append(("operator", self.clock, {"action": "stop", "run_id": self.run_id,
                                                            "outcome": f"stopped at tick {feed.position:,}",
                                                            **self.stopped_by}))
        if run_ends:
            self._book(topo.agents["execution"].call("flatten", None, "end of session"))
            self._reconcile()  # flat at the venue too, or said in result.discrepancies
        self._settle()
        result.elapsed_s = time.perf_counter() - started
        result.final = dict(self.snapshots)
        result.summaries = topo.agents["performance"].query("summary")
        result.compliance = topo.agents["compliance"].query("report")
        result.agent_stats = [ref.info() for ref in topo.all()]
        if run_ends:  # the run's end; a stopped desk's run goes on at its restart
            record, self.log = self.log.seal(self.units + 1, result.ticks, snapshots=self.snapshots,
                                             headrooms=self.headrooms, record_headroom=False, final=True), BatchLog()
            self._emit(record, result, RunEnd(result.ticks, result.batches, result.elapsed_s, result.summaries))
        else:
            self._unit({"kind": "stop"}, feed)
        if self.kafka is not None:
            rt.get(self.commits)  # the last batch's offsets are committed before the actors go
        return result

    # -- units ----------------------------------------------------------------------------------
    def _unit(self, intent: dict[str, Any], feed: Feed, batch: TickBatch | None = None, replay: bool = False) -> None:
        """Run one unit of work to its record (and checkpoint). With ``replay`` it is the unit a dead
        driver was in: the same ticks or instant, with the agents' answers recorded for the calls
        they had applied."""
        unit = self.units + 1
        intent = {**intent, "unit": unit}
        if self.desk is not None and not replay:
            self.desk.intend(intent)
            self._lap("intent")
        kind = intent["kind"]
        beat = bool(intent.get("beat"))
        clean: TickBatch | None = None
        if kind == "start":
            self._advance(TickBatch.empty(), int(intent["now_ns"]))
            if self.requested is not None:  # who asked for this run: in its first record (the store wrote
                # it with the run's row, and does not write it twice; the live view and Kafka get it here)
                self.log.notes.append(("operator", self.clock, start_record(self.run_id, self.requested)))
            self._reconcile()  # a venue that holds what the desk does not know of halts it at the first review
        elif kind == "batch":
            if batch is None:  # replayed: the same ticks, from the feed
                batch = self._ticks_between(feed, int(intent["start"]), int(intent["end"]))
            clean = self._batch(batch, beat)
        elif kind == "idle":
            self._idle(int(intent["now_ns"]), beat)
        elif kind == "control":
            self._control(intent["request"])
        elif kind == "stop":
            self.log.notes.append(("desk_stop", self.clock, {"run_id": self.run_id, "ticks": feed.position}))
        self.units = unit
        self._lap(kind)
        ticks = int(intent.get("end", feed.position))
        record, self.log = self.log.seal(unit, ticks, snapshots=self.snapshots, headrooms=self.headrooms,
                                         last_quotes=_last_quotes(clean, self.registry) if clean is not None else None,
                                         heartbeats=self.agent_seen if beat else None), BatchLog()
        self._emit(record, self.result, durable=not (replay and unit <= self.durable_unit))
        self.result.ticks = ticks
        self.result.batches += kind == "batch"
        if self.kafka is not None and kind == "batch":  # the batch is durable and out: its offsets committed
            self.commits = [ing.handle.query.remote("commit", self.result.batches - 1, feed.ended)
                            for ing in self.topo.ingress]
        self._lap("record")
        if self.desk is not None:
            self._checkpoint(feed)
            self._lap("checkpoint")
            if kind == "control":
                self.desk.answer(intent["request"], self.control_outcome)
            self.desk.after_unit(self.status)
            self._lap("status")
        if self.on_batch is not None and kind == "batch":
            r = self.result
            self.on_batch(Progress(r.batches, max(self.expected_batches, r.batches), ticks, r.counts["signals"],
                                   r.counts["orders"], r.counts["trades"], time.perf_counter() - self.started,
                                   record), self.topo)

    def _ticks_between(self, feed: Feed, start: int, end: int) -> TickBatch:
        """The ticks [start, end) of a feed that can be read again (a replay or a file)."""
        feed.seek(start)
        parts: list[TickBatch] = []
        while sum(len(p) for p in parts) < end - start:
            parts.append(feed.poll(end - start - sum(len(p) for p in parts), 0.0, 0.0))
        return TickBatch.concat(parts) if len(parts) != 1 else parts[0]

    def _batch(self, batch: TickBatch, beat: bool) -> TickBatch:
        """One batch of ticks: ingress, analysis, the sagas at each signal's instant, the review."""
        topo = self.topo
        n_ingress = len(topo.ingress)
        self.batch_started = time.perf_counter()
        if self.kafka is not None:  # each ingress actor reads batch b of its partitions from md.ticks
            b = self.result.batches
            ing_refs = [ing.call("poll_batch", b) for ing in topo.ingress]
            if b + 1 < self.expected_batches:  # and reads b+1 while the desk works on b (one sequenced call in flight)
                for ing in topo.ingress:
                    ing.handle.query.remote("prefetch", b + 1)
        elif n_ingress == 1:
            ing_refs = [topo.ingress[0].call("process", batch)]
        else:
            ing_refs = [ing.call("process", batch.take(batch.inst % n_ingress == j))
                        for j, ing in enumerate(topo.ingress)]
        an_refs = [shard.call("on_batch", *ing_refs) for _, shard in topo.analysis]
        ingested: list[IngressResult] = rt.get(ing_refs)
        self._lap("ingress")
        clean = self._merge([r.clean for r in ingested])
        if self.series is not None:  # research data: ticks and bars as they came in
            self.series.write_ticks(clean)
            self.series.write_bars([bar for r in ingested for bar in r.bars], self.settings.session.bar_seconds)
        for r in ingested:
            self.log.dead_letters.extend(d.reason for d in r.dead_letters)
        analysed = self._analysed(an_refs)
        self._lap("analysis")
        signals = sorted((s for o in analysed for s in o.signals), key=lambda s: (s.ts_ns, s.symbol, s.setup))
        self.log.events.extend(e for o in analysed for e in o.events)
        self.log.signals.extend(signals)
        if signals:
            self._hold("learning", "on_update", signals, [])
        bars = sorted((b for r in ingested for b in r.bars), key=lambda b: (b.end_ns, b.symbol))
        self.unlearned = list(zip(self._known_at(clean, [(b.symbol, b.end_ns) for b in bars]), bars, strict=True))
        self._walk(clean, signals)
        self._lap("advance")
        # The correlation window learns the rest of the batch's bars after its sagas (the next
        # saga's check does not wait behind this call).
        self._learn_bars(len(clean) + 1, warm=True)
        self._settle(wait=False)  # the batch's book-keeping, not waited for
        self._lap("book-keeping")
        if beat:
            self._settle()  # an agent's heartbeat must not queue behind its book-keeping
            self._beat()
            self._lap("beat")
        if len(clean):
            self._review(int(clean.ts[-1]), self._last_ts(clean))
        self._settle(wait=False)
        self._lap("review")
        return clean

    def _idle(self, now_ns: int, beat: bool) -> None:
        """No tick came: advance the desk's clock to the market's time, which cuts at every daily
        reset and flat-by deadline passed meanwhile (a weekend's close happens at its instant)."""
        if now_ns > self.clock:
            self._walk(TickBatch.empty(), [], now_ns)
        self._settle()
        if beat:
            self._beat()
            self._review(max(now_ns, self.clock), {})
            self._settle()

    # -- a long-running desk: checkpoints, resume, controls ---------------------------------------
    CHECKPOINTED = ("units", "clock", "snapshots", "mids", "headrooms", "blocked", "system_open", "desk_halted", "warned",
                    "pending_halt", "sent", "health", "ignored", "agent_seen", "operator_halts", "handled", "result")
    HANDLED_KEPT = 1000  # the answers of the last requests carried out, by request id

    def _vet(self, request: dict[str, Any]) -> str | None:
        """A request carried out before a restart gets its answer again, not a second go; one older
        than ``desk.request_ttl_seconds`` (its asker has given up waiting) and the desk's own
        actions are refused. None: carry it out. Decided before the unit, so a replay never differs."""
        rid = str(request.get("id", ""))
        if rid in self.handled:
            return self.handled[rid]
        refused = ""
        try:
            age = time.time() - float(request.get("at", 0))
        except (TypeError, ValueError):
            age = float("inf")
        ttl = self.settings.desk.request_ttl_seconds
        if not age == age or age < -FUTURE_SKEW_S:  # NaN, or stamped in the future: no age to trust
            refused = "refused: the request's time (at) is not a time before now"
        elif age > ttl:
            refused = f"refused: the request is {age:.0f} s old, older than desk.request_ttl_seconds ({ttl:.0f} s)"
        elif request.get("action") not in CONTROLS:
            refused = f"refused: unknown action {request.get('action')!r} ({', '.join(CONTROLS)})"
        elif not str(request.get("who", "")).strip() or request.get("who") == "desk":
            refused = "refused: a request must say who asks (and not as the desk itself)"
        if refused:
            self.log.notes.append(("operator", self.clock, {"action": str(request.get("action", "")),
                                                            "account_id": str(request.get("account", "")),
                                                            "who": str(request.get("who", "")),
                                                            "outcome": refused, "request_id": rid}))
            return refused
        return None

    def _checkpoint(self, feed: Feed) -> None:
        """The driver's state after a unit (everything a later unit reads that earlier ones made),
        and each agent's sequence: from here on each agent keeps its answers until the next one."""
        if self.desk is None:
            return
        self._settle()  # every call sent is applied: the agents' state is that of the checkpoint
        seqs = {ref.name: ref.mark() for ref in self.topo.all()}
        state = {name: getattr(self, name) for name in self.CHECKPOINTED}
        state["reduced"] = self.reduced
        state["reviewed_at"] = self.reviewed_at
        state["breaker_due"] = self.breaker_due
        state["last_tick"] = self.last_tick
        state["spreads"] = self.spreads
        state.update(seqs=seqs, position=feed.position, result=replace(self.result, records=None),
                     exec_address=self.exec_address, identity=self.identity, state_format=STATE_FORMAT)
        self.desk.save(state)

    def _identity(self, feed: Feed) -> dict[str, Any]:
        """What a resumed run must be the same on: the feed, the accounts, the instruments, and what the agents' saved
        state was made under, all of an account's settings but last_trade (a resume takes one given since) with its
        firm's rules when the settings hold them."""
        return {"feed": feed.identity(), "accounts": self.account_ids, "instruments": list(self.registry.symbols),
                "account_settings": {a.id: plain_numbers({**a.model_dump(exclude={"last_trade"}),
                                                          "firm_rules": self.settings.firms.get(a.firm)})
                                     for a in self.settings.accounts}}

    @staticmethod
    def differs(was: dict[str, Any], now: dict[str, Any]) -> list[str]:
        """What of a run's identity (``_identity``) differs from the saved one, in words. A state saved before account
        settings were part of it is not refused for lacking them."""
        if "account_settings" in was:  # an account's settings a later version added are not in a saved state
            kept = was["account_settings"]
            now = {**now, "account_settings": {a: {k: v for k, v in got.items() if k in kept.get(a, got)}
                                               for a, got in now["account_settings"].items()}}
        keys = [k for k in now if (k in was or k != "account_settings") and was.get(k) != now[k]]
        return [f"settings of {', '.join(a for a in now[k] if was[k].get(a) != now[k][a])}"
                if k == "account_settings" else k for k in keys]

    def _restore(self, saved: dict[str, Any], feed: Feed) -> None:
        named = self.differs(saved.get("identity") or {}, self.identity)
        if named:
            raise ResumeRefused(f"run {self.run_id} was running on other {' and '.join(named)} than these settings "
                                "give: start it with the settings it ran on, or start a new run "
                                "(`octet desk start --new`)")
        for name in self.CHECKPOINTED:
            setattr(self, name, saved[name])
        self.reduced = saved.get("reduced", frozenset())  # (state saved before the pass-odds breaker)
        self.reviewed_at = saved.get("reviewed_at", 0)  # (saved before reviews ahead of a saga)
        self.breaker_due = saved.get("breaker_due", 0)  # (0: review before the next saga, then known)
        self.health.stamped(self.clock)
        self.last_tick = saved.get("last_tick", {})  # (saved before silences were cut at)
        self.spreads = replace(saved.get("spreads", self.spreads), factor=self.spreads.factor)  # (saved before
        # spreads were watched tick by tick: a new watch); the factor is the settings', as an operator set it
        self.result.records = [] if self.keep_records else None
        for ref in self.topo.all():  # each agent answers a repeated call with what it answered before
            ref.seq = ref.kept = saved["seqs"].get(ref.name, 0)
        if self.store is not None:
            self.durable_unit = self.store.resume_run(self.run_id)
        feed.seek(int(saved["position"]))

    def _settle_with_venue(self, feed: Feed) -> None:
        """After a restart: the books against rust_exec, every difference resolved by the policy
        (adopted or flattened), each an audit record naming both sides. A unit of its own."""
        policy = self.settings.desk.reconcile_policy
        self._unit({"kind": "control", "request": {"id": "", "action": "reconcile", "account": "",
                                                   "reason": f"restart, policy {policy}", "who": "desk"}}, feed)

    def _control(self, request: dict[str, Any]) -> None:
        """An operator's control of the running desk (or the desk's own reconciliation at restart),
        recorded in the audit trail with who asked."""
        action, account = str(request.get("action", "")), str(request.get("account", ""))
        who, reason = str(request.get("who", "")), str(request.get("reason", "")) or "operator"
        execution = self.topo.agents["execution"]
        scope = account or "*"
        name = "the desk" if scope == "*" else account
        if account and account not in self.account_ids:
            outcome = f"refused: no account {account!r} on this desk ({', '.join(self.account_ids)})"
        elif action == "reload":
            outcome = "refused: reload reads the desk's files, for every account: name none" if account else \
                self._reload()
        elif action == "halt":
            self.operator_halts[scope] = (who, reason)
            outcome = f"halted {name}: no new saga opens for it"
            if scope == "*":
                outcome += self._venue_halt(who, reason)
        elif action == "resume":
            was = self.operator_halts.pop(scope, None)
            outcome = f"resumed {name}" if was else f"{name} was not halted by an operator"
            if was and scope == "*":
                outcome += self._venue_resume()
        elif action == "flatten":
            before = len(self.log.reports)
            self._book(execution.call("flatten", account or None, f"operator {who}: {reason}"))
            outcome = f"flattened {name}: {len(self.log.reports) - before} report(s)"
        elif action == "ack":  # an operator saw an alert: recorded, nothing of the desk changes
            alert = str(request.get("alert", ""))
            outcome = f"acknowledged {alert}" if re.fullmatch(r"(breaker|warning)-[1-9][0-9]{0,18}", alert) else \
                f"refused: {alert[:40]!r} is not an alert id (breaker-<n>, warning-<n>)"
        elif action == "reconcile":
            policy = self.settings.desk.reconcile_policy
            update: ExecUpdate = rt.get(execution.call("settle_differences", policy, reason))
            for event in update.reconciled:
                self.log.notes.append(("reconcile", self.clock, {"event": event, "policy": policy}))
            self._book(update)
            outcome = f"{len(update.reconciled)} difference(s) resolved by policy {policy}" + (
                f", {len(update.discrepancies)} left" if update.discrepancies else "")
        else:
            outcome = f"refused: unknown action {action!r} ({', '.join(CONTROLS)})"
        self.control_outcome = outcome
        if request.get("id"):
            self.handled[str(request["id"])] = outcome
            while len(self.handled) > self.HANDLED_KEPT:
                del self.handled[next(iter(self.handled))]
        self.log.notes.append(("operator" if who != "desk" else "desk", self.clock,
                               {"action": action, "account_id": account, "who": who, "reason": reason,
                                "outcome": outcome, "request_id": str(request.get("id", "")),
                                **({"alert_id": str(request.get("alert", ""))[:40]} if action == "ack" else {})}))

    def _paths(self) -> dict[str, Path]:
        """The files a reload reads again and the watch looks at: those set of the news calendar and the closures."""
        c = self.settings.agents.compliance
        return {name: path for name, path in (("news_calendar", c.news_calendar), ("market_closures", c.market_closures))
                if path is not None}

    def _signatures(self) -> dict[str, tuple[int, int, int] | None]:
        """The news calendar's and the market closures' files as they stand: (modified, size, inode) of each set
        (None: it cannot be seen)."""
        out: dict[str, tuple[int, int, int] | None] = {}
        for name, path in self._paths().items():
            try:
                st = os.stat(path)
                out[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                out[name] = None
        return out

    def _mark_read(self) -> None:
        """The files as they are now are those read (at the start, and at each reload)."""
        self.watched = self.seen = self._signatures()
        self.digests = {name: _digest(path) for name, path in self._paths().items()}
        self.on_disk = {}

    def _watch(self) -> None:
        """At most every ``desk.watch_seconds``: which files have changed on disk since they were read, once a change
        has stood still for a round, with bytes other than those read (``on_disk``; ``_warn`` alerts them). The desk
        never reads one by itself: it cannot tell a file still being written, or cut short, from a whole one (a
        calendar cut at a line parses, with its week's later events missing). `octet desk reload` reads them."""
        every = self.settings.desk.watch_seconds
        if not every or time.monotonic() < self.watch_at:
            return
        self.watch_at = time.monotonic() + every
        now = self._signatures()
        seen, self.seen = self.seen, now
        if now != seen:  # still changing: looked at again next round
            return
        paths = self._paths()
        for name, sig in now.items():
            if sig == self.watched.get(name):
                self.on_disk.pop(name, None)
            elif sig is None:
                self.on_disk[name] = ("removed", None)
            elif self.on_disk.get(name, ("", None))[1] != sig:  # hashed once a change
                if _digest(paths[name]) == self.digests.get(name):
                    self.watched[name] = sig  # the same bytes written again (or touched)
                    self.on_disk.pop(name, None)
                else:
                    self.on_disk[name] = ("changed", sig)

    def _reload(self) -> str:
        """`octet desk reload`: the news calendar and the market closures read again by the compliance agent (whose
        firm rules read them), and the desk and the breaker take what it answers. If either cannot be read, both stay
        as they were and an alert stands until a reload reads them. What it says: what each now holds."""
        paths = self._paths()
        named = {name: str(path) for name, path in paths.items()}
        self._mark_read()  # before the read: a change after it is seen at the next round
        read: FilesRead = rt.get(self.topo.agents["compliance"].call(
            "reload_files", named.get("news_calendar"), self.settings.agents.compliance.news_calendar_tz,
            named.get("market_closures")))
        errors = dict(read.errors)
        if not errors:  # all or nothing: the compliance agent took neither file if one could not be read
            rt.get(self.topo.agents["breaker"].call("set_closures", read.closures))  # its probation's market time
            self.closures = read.closures
            self.closed = {s: self.closures.spans((s,)) for s in self.registry.symbols}
            self._all_closed = None
            self._leads.clear()
            if self.with_news:
                self.news = read.news
        self.file_errors = {name: f"{name} could not be read ({why}): the desk keeps both files as it read them "
                                  "before (a restart refuses this one too); write the file whole (to another name, "
                                  "then rename it over this one)" for name, why in errors.items()}
        parts = []
        for name in ("news_calendar", "market_closures"):
            path = paths.get(name)
            if path is None:
                parts.append(f"{name}: none set")
            elif errors:
                parts.append(f"{name} {path.name}: " + (f"not read ({errors[name]})" if name in errors else
                                                        "not read either") + ", the one before kept")
            elif name == "news_calendar":
                until = read.news.covered_until(self.clock)
                parts.append(f"{name} {path.name}: {len(read.news):,} events, " + (
                    f"covers orders until {utc_text(until)}" if until > self.clock else "covers no orders now"))
            else:
                parts.append(f"{name} {path.name}: {len(read.closures):,} breaks")
        return ("refused: " if errors else "read ") + "; ".join(parts)

    def _venue_halt(self, who: str, reason: str) -> str:
        """An operator's halt of the whole desk locks rust_exec too, so that no new order passes
        even one already on its way (its stops and the desk's flattens still work). A halt someone
        else set there (a kill switch, `octet halt`) is left as it is: rust_exec holds one halt
        reason, and the desk's resume must never lift theirs. What the outcome adds: what rust_exec did."""
        try:
            h = self.venue.health()
            if h.halted and not desks_own(h.halt_reason):
                self.venue_halted = True
                return f"; rust_exec was already halted: {h.halt_reason}"
            self.venue.halt(f"{OPERATOR_VENUE_HALT} ({who}): {reason}", ts_ns=self.clock)
        except ExecUnavailable as exc:
            self.health.venue_error = _cause(exc)
            return f"; rust_exec was not reached ({_cause(exc)}): the desk's own halt holds"
        self.venue_halted = True
        return "; rust_exec refuses new orders"

    def _venue_resume(self) -> str:
        """Lift the operator's lock of rust_exec, if it is still theirs: a system breaker's halt
        (the breaker lifts it when it closes) or a kill switch (`octet halt`) stays. A lock this
        could not lift (rust_exec unreachable) is lifted when rust_exec is seen again (``_venue_seen``)."""
        if self.desk_halted:
            return "; rust_exec stays halted by the system breaker"
        try:
            h = self.venue.health()
            if h.halted and not h.halt_reason.startswith(OPERATOR_VENUE_HALT):
                return f"; rust_exec stays halted: {h.halt_reason}"
            if h.halted:
                self.venue.resume()
        except ExecUnavailable as exc:
            self.health.venue_error = _cause(exc)
            return f"; rust_exec was not reached ({_cause(exc)}): its lock is lifted when it answers again"
        self.venue_halted = False
        return "; rust_exec takes orders again"

    def _still_the_breakers(self) -> bool:
        try:
            return desks_own(self.venue.health().halt_reason)
        except ExecUnavailable:
            return True  # as before: the resume goes through the execution agent, which retries

    def _venue_seen(self, halted: bool) -> str:
        """What rust_exec's halt, as its last reply said, is to the desk: "" (none, or the desk's
        own: its system breaker's or its operator's), or a kill switch someone else set (`octet
        halt`: the breaker mirrors it, halting and flattening). An operator's lock left behind by a
        resume that did not reach rust_exec is lifted here."""
        if not halted or self.desk_halted:
            return ""
        try:
            reason = self.venue.health().halt_reason
        except ExecUnavailable:
            return ""  # unreachable: the breaker's venue check says so
        if reason.startswith(OPERATOR_VENUE_HALT):
            if "*" not in self.operator_halts:  # the operator resumed while rust_exec could not hear it
                self._venue_resume()
            return ""
        return "venue halted by an operator"

    def status(self) -> dict[str, Any]:
        """What `octet desk status` shows: accounts, positions, headroom, breaker tiers, feed lag."""
        accounts = {}
        for acc in self.account_ids:
            snap, head = self.snapshots.get(acc), self.headrooms.get(acc)
            accounts[acc] = {
                "balance": str(snap.balance) if snap else None, "equity": str(snap.equity) if snap else None,
                "positions": [{"id": p.position_id, "symbol": p.symbol, "side": int(p.side), "lots": str(p.lots),
                               "entry": str(p.entry)} for p in (snap.positions if snap else ())],
                "daily_headroom": str(head.daily_headroom) if head else None,
                "max_loss_headroom": str(head.max_loss_headroom) if head else None,
                "idle_deadline_ns": head.idle_deadline_ns or None if head else None,
                # a firm's news rule: the instant the calendar stops covering its orders (refused from then)
                "news_until_ns": self.news.covered_until(self.clock) if self.rules[acc].news.active else None,
                # what the firm's size rules leave new orders today (a scaling plan's step, an open-risk cap)
                "lots_room": None if head is None or head.lots_room is None else str(head.lots_room),
                "risk_room": None if head is None or head.risk_room is None else str(head.risk_room),
                "breaker": "blocked" if acc in self.blocked else "ok",
                "operator_halt": list(self.operator_halts.get(acc, ())) or None,
            }
        r = self.result
        return {"run_id": self.run_id, "units": self.units, "batches": r.batches, "ticks": r.ticks,
                "signals": r.counts["signals"], "orders": r.counts["orders"], "trades": r.counts["trades"],
                "market_time_ns": self.clock, "feed_lag_ms": round(max(0.0, (self.feed.now_ns() - self.clock) / 1e6), 1),
                "system_breaker": "open" if self.system_open else "closed", "ignored_agents": sorted(self.ignored),
                "venue_halted": self.venue_halted,
                "desk_halt": list(self.operator_halts.get("*", ())) or None, "accounts": accounts,
                "warnings": [text for _, text in sorted(self.warned.values())],  # alerts ahead of a firm's deadline
                "files": self._files_status(),
                "model": self.trust.status(),
                "tick_to_order_p50_ms": round(r.tick_to_order.percentile(0.5), 2) if r.counts["orders"] else None,
                "tick_to_order_p99_ms": round(r.tick_to_order.percentile(0.99), 2) if r.counts["orders"] else None,
                "saga_p50_ms": round(r.saga.percentile(0.5), 2) if r.saga.count else None,
                "saga_p99_ms": round(r.saga.percentile(0.99), 2) if r.saga.count else None,
                "stages_s": {k: round(v, 3) for k, v in sorted(self.stages.items(), key=lambda kv: -kv[1])},
                "agents": {name: {"calls": i.get("calls", 0), "busy_s": round(i.get("busy_s", 0.0), 3),
                                  "save_s": round(i.get("save_s", 0.0), 3),
                                  "methods": {m: [c, round(b, 3), round(v, 3)] for m, (c, b, v) in i.get("methods", {}).items()},
                                  "pid": i.get("pid"), "restarts": i.get("restarts", 0),
                                  "heartbeat_at": i.get("heartbeat_at"), "heartbeat_ok": i.get("heartbeat_ok"),
                                  "missed_heartbeats": i.get("missed", 0)}
                       for name, i in self.agent_seen.items()}}

    def _files_status(self) -> dict[str, dict[str, Any]]:
        """The news calendar and the market closures the desk holds: each file (its name: viewers see it), what it held
        when read (events where a firm has a news rule, breaks), why a reload refused it (``_reload``), and whether it
        has since changed on disk or been removed, unread (``_watch``)."""
        counts = {"news_calendar": len(self.news) if self.with_news else None, "market_closures": len(self.closures)}
        return {name: {"path": path.name, "entries": counts[name], "error": self.file_errors.get(name),
                       "on_disk": self.on_disk.get(name, (None, None))[0]}
                for name, path in self._paths().items()}

    def _lap(self, stage: str) -> None:
        """The time since the last lap goes to ``stage`` (``status()['stages_s']``)."""
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self.lapped
        self.lapped = now

    def _hold(self, agent: str, method: str, *args: Any) -> None:
        """A book-keeping call, sent with the agent's others once the batch's sagas are done."""
        self.later.setdefault(agent, []).append((method, args))

    def _settle(self, wait: bool = True) -> None:
        """Send the book-keeping held back during the batch's sagas (performance, learning: nothing
        on a signal's path reads them), one call per agent, then wait for every call in flight; or,
        without ``wait``, only collect those done (a failure is raised either way) and leave the
        rest to run while the desk goes on: nothing the desk reads comes from them, each agent applies
        its calls in the order sent (``AgentRef``), and none is sent a call before its last one
        succeeded (``_send``). A checkpoint and a heartbeat wait for all of them.
        (One sequenced call in flight per agent: Ray does not promise to retry two in order.)"""
        for agent, calls in self.later.items():
            self._send(agent, MANY, calls)
        self.later = {}
        rt.get(self.risk_trades)
        self.risk_trades = []
        if wait:
            rt.get([ref for _, ref in self.pending])
            self.pending = []
        elif self.pending:
            refs = [ref for _, ref in self.pending]
            done, _ = rt.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            rt.get(done)
            finished = set(done)
            self.pending = [(a, ref) for a, ref in self.pending if ref not in finished]

    def _send(self, agent: str, method: str, *args: Any) -> None:
        """A book-keeping call, sent once the agent's last one is known to have succeeded (a call
        applied after one that failed could not be replayed in order after a restart)."""
        rt.get([ref for a, ref in self.pending if a == agent])
        self.pending = [(a, ref) for a, ref in self.pending if a != agent]
        self.pending.append((agent, self.topo.agents[agent].call(method, *args)))

    def _merge(self, parts: list[TickBatch]) -> TickBatch:
        if len(parts) == 1:
            return parts[0]
        merged = TickBatch.concat(parts)
        return merged.take(np.lexsort((merged.inst, merged.ts)))

    def _instants(self, since: int, until: int) -> set[int]:
        """Every account's instants in (since, until]: its firm's resets and flat-by deadlines (before a
        long market closure of an instrument of the desk's too), and the moments it starts to close for
        a news window."""
        out: set[int] = set()
        for rules in self.rules.values():
            out.update(rules.instants(since, until, self.closures, self.registry.symbols))
            out.update(news_flat_instants(rules, self.news, since, until, self.currencies))
        return out

    def _known_at(self, clean: TickBatch, closes: list[tuple[str, int]]) -> list[int]:
        """Where in the batch each bar (symbol, end) became known: the position of its instrument's
        first tick at or after its end, the tick that closed it (ingress closes a bar there, so that
        tick is in the batch that brought the bar)."""
        out: list[int] = []
        mine: dict[int, np.ndarray] = {}
        for symbol, end in closes:
            inst = self.registry.index(symbol)
            if inst not in mine:
                mine[inst] = np.flatnonzero(clean.inst == inst)
            own = mine[inst]
            j = int(np.searchsorted(clean.ts[own], end, "left"))
            out.append(int(own[j]) if j < len(own) else int(np.searchsorted(clean.ts, end, "left")))
        return out

    def _learn_bars(self, before: int, warm: bool = False) -> None:
        """The correlation window learns the batch's bars that became known before position ``before``."""
        now = [bar for k, bar in self.unlearned if k < before]
        if now:
            self.unlearned = [(k, bar) for k, bar in self.unlearned if k >= before]
            self._send("correlation", "on_bars", now, warm)

    def _cuts(self, clean: TickBatch, signals: list[Signal], until: int = 0
              ) -> list[tuple[int, int, list[Signal], bool, list[tuple[str, int, float]] | None]]:
        """Where the batch is cut: at each signal, where it became known (the tick that closed its
        bar: the desk cannot act on it before), at every account's resets and flat-by deadlines
        since the last time the desk advanced to, including those that fell between the previous
        batch and this one (a weekend), each judged from the state before it, and for the breaker:
        where an instrument's silence passes the stale-data limit, where its next tick ends it, and
        after each tick whose spread blows out. A cut is a position in the batch, so the state a saga
        sees is the same however the ticks were batched.
        Each cut: (time, position, its signals, whether it is one of the firms' instants, None or,
        where the breaker reviews, the spread blowouts it sees there)."""
        cuts: dict[tuple[int, int], list[Signal]] = {}
        instants: set[tuple[int, int]] = set()
        review: dict[tuple[int, int], list[tuple[str, int, float]]] = {}
        for s, k in zip(signals, self._known_at(clean, [(s.symbol, s.ts_ns) for s in signals]), strict=True):
            cuts.setdefault((int(clean.ts[k]) if k < len(clean) else s.ts_ns, k), []).append(s)
        if len(clean) or until:
            since = self.clock or (int(clean.ts[0]) - 1 if len(clean) else until - 1)
            last = max(int(clean.ts[-1]) if len(clean) else 0, until)
            for t in self._instants(since, last):
                at = (t, int(np.searchsorted(clean.ts, t, "left")))
                cuts.setdefault(at, [])
                instants.add(at)
            for at in self._silences(clean, since, last):
                cuts.setdefault(at, [])
                review.setdefault(at, [])
        for j, blowout in self._blowouts(clean):  # after the tick: the review sees its spread
            at = (int(clean.ts[j]), j + 1)
            cuts.setdefault(at, [])
            review.setdefault(at, []).append(blowout)
        return [(t, k, group, (t, k) in instants, review.get((t, k))) for (t, k), group in sorted(cuts.items())]

    def _blowouts(self, clean: TickBatch) -> list[tuple[int, tuple[str, int, float]]]:
        """The batch's ticks whose spread blows out (``trading.breaker.SpreadWatch``): (position,
        (symbol, spread, reference))."""
        out: list[tuple[int, tuple[str, int, float]]] = []
        if not len(clean):
            return out
        spread = clean.ask - clean.bid
        for inst in np.unique(clean.inst).tolist():
            own = np.flatnonzero(clean.inst == inst)
            symbol = self.registry.by_index(inst).symbol
            out.extend((int(own[i]), (symbol, width, ref)) for i, width, ref in self.spreads.scan(inst, spread[own]))
        return out

    def _silences(self, clean: TickBatch, since: int, last: int) -> list[tuple[int, int]]:
        """The cuts of instruments' silences in (since, last] (``trading.breaker.silences``): where one
        passes the stale-data limit, and the tick that ends it (cut before that tick)."""
        limit = int(self.settings.agents.breaker.stale_after_seconds * NS_PER_S)
        out: list[tuple[int, int]] = []
        for symbol in self.registry.symbols:
            own = np.flatnonzero(clean.inst == self.registry.index(symbol))
            before = self.last_tick.get(symbol, 0)
            if not before:  # silent from its first tick on (never ticked: never stale)
                if not len(own):
                    continue
                before, own = int(clean.ts[own[0]]), own[1:]
            for at, i in silences(before, clean.ts[own], self.spacing.get(symbol, 0), limit, last, self.closed[symbol]):
                if at > since:
                    out.append((at, int(np.searchsorted(clean.ts, at, "left"))))
                if i is not None:
                    out.append((int(clean.ts[own[i]]), int(own[i])))
        return out

    def _last_ts(self, clean: TickBatch) -> dict[str, int]:
        """Each instrument's last tick in ``clean``."""
        return {self.registry.by_index(i).symbol: q[0] for i, q in clean.last_quotes().items()}

    def _walk(self, clean: TickBatch, signals: list[Signal], until: int = 0) -> None:
        """Advance through the batch (and, with no tick, to ``until``), cut at each signal and
        instant of the rules, running each signal's saga at its cut."""
        pos = 0
        for t, k, group, instant, review in self._cuts(clean, signals, until):
            self._advance(clean.take(slice(pos, k)), t)
            pos = k
            if instant:  # a firm's instant (a day's reset): the accounts as they stand, for the curve
                self.log.equity.extend(self.snapshots[a] for a in sorted(self.snapshots))
            if group:  # the exposure check sees the bars that closed before the signal's, none after
                self._learn_bars(k)
            # The breaker reviews where a silence passes the stale-data limit or ends and after a tick
            # whose spread blows out (so it trips, and its cool-down runs, from the same instants
            # however the ticks are batched), and before a signal's saga what came before it: a
            # losing streak or a fallen headroom stops the signal however many ticks a batch holds
            # (not only at its end). A live desk's batches are a few milliseconds: there the last
            # review is that recent, and one is made before a saga only if a trade, fill or refusal
            # came since, or a breaker's cool-down or probation ended since (it costs ~4 ms).
            if review is not None:
                self.health.blown(review)
            if review is not None or (group and (self.health.pending() or t >= self.breaker_due
                                                 or t - self.reviewed_at >= REVIEW_BEFORE_SAGA_NS)):
                self._review(t, self._last_ts(clean.take(slice(0, k))))
            for signal in group:
                self._saga(signal)
        if pos < len(clean) or len(clean) == 0:
            self._advance(clean.take(slice(pos, None)), max(int(clean.ts[-1]) if len(clean) else 0, until))

    def _advance(self, quotes: TickBatch, as_of: int) -> None:
        """Push quotes to the venue up to ``as_of``, book what filled, refresh headroom."""
        self.clock = max(self.clock, as_of)
        try:
            self._book(self.topo.agents["execution"].call("on_quotes", quotes, as_of))
        except ExecUnavailable as exc:  # the broker is gone: the system tier halts the desk (nothing
            self.health.venue_error = _cause(exc)  # was booked: the compliance call failed with it)
            return
        for acc, head in sorted(self.headrooms.items()):
            if head.flatten_reason:  # a holding rule (before the weekend or the session end), or a
                # floor that rose past the open stops: close while equity is above it
                self._book(self.topo.agents["execution"].call("flatten", acc, f"compliance: {head.flatten_reason}"))

    def _reconcile(self) -> None:
        """The desk's open positions against rust_exec's, at start, at every heartbeat (so after
        any restart) and at the end; a difference reaches the breaker's system tier."""
        try:
            self._book(self.topo.agents["execution"].call("reconcile"))
        except ExecUnavailable as exc:  # the venue is gone: the system tier halts (see _advance)
            self.health.venue_error = _cause(exc)

    def _book(self, pending: ExecUpdate | Any) -> None:
        """Book an execution update (or Ray's reference to one, still being made): the compliance
        agent gets it straight from the execution agent, so its headroom is worked out while the
        driver books the reports and trades."""
        agents = self.topo.agents
        heads = agents["compliance"].call("observe_update", pending)
        update: ExecUpdate = rt.get(pending) if rt.is_ref(pending) else pending
        self.snapshots, self.mids = update.snapshots, update.mids
        self.log.reports.extend(update.reports)
        self.log.discrepancies.extend(update.discrepancies)
        self.health.book(update, self.sent, self.registry)
        for coid in done_orders(update.reports, update.snapshots):  # nothing more of theirs will come
            self.sent.pop(coid, None)
        # halted, and neither by the desk's breaker nor by its operator's halt: a kill switch (`octet halt`)
        self.venue_halted = update.venue_halted
        self.health.kill_switch = self._venue_seen(update.venue_halted)
        if update.trades:
            trades = list(update.trades)
            self.log.trades.extend(trades)
            self.log.equity.extend(update.snapshots[a] for a in sorted({t.account_id for t in trades})
                                   if a in update.snapshots)
            rt.get(self.risk_trades)  # (one sequenced call in flight per agent: see _saga)
            self.risk_trades = [agents["risk"].call("on_trades", trades)]  # the next sizing sees them
            self._hold("learning", "on_update", [], trades)
            self.trust.on_trades(trades)
        self._hold("performance", "on_update", update.snapshots, list(update.trades))
        self.headrooms = rt.get(heads)
        self.log.headroom_seen(self.headrooms)
        self.trust.on_headrooms(self.headrooms)

    def _saga(self, signal: Signal) -> None:
        self.trust.refresh()
        self._model_notes()  # a model loaded now, before it scores (its own note if it is set aside)
        known = self.trust.observe(signal)  # what the desk knows at the signal: recorded with it (learning's samples)
        self.log.contexts[signal.signal_id] = known.as_record()
        scored = self.trust.score(signal, known)  # None without a model
        self._model_notes()
        saga_agents = sorted(self.ignored & {"risk", "correlation", "style", "compliance", "execution"})
        halted = self.system_open or bool(saga_agents)
        stopped = self.account_ids if halted else [a for a in self.account_ids if a in self.blocked]
        for acc in stopped:
            tier = "system" if self.system_open else ("agent" if saga_agents else "account")
            why = f"agent breaker open: {', '.join(saga_agents)}" if tier == "agent" else "circuit breaker open"
            self.log.decisions.append(Decision(signal.signal_id, acc, "breaker", "veto", tier, why))
        accounts = [a for a in self.account_ids if a not in stopped]
        for acc in [a for a in accounts if a in self.operator_halts or "*" in self.operator_halts]:
            who, reason = self.operator_halts.get(acc) or self.operator_halts["*"]
            self.log.decisions.append(Decision(signal.signal_id, acc, "operator", "veto", "halt",
                                               f"halted by {who}: {reason}"))
            accounts.remove(acc)
        for acc in [a for a in accounts if signal.symbol not in self.venue_symbols.get(a, (signal.symbol,))]:
            # rust_exec would refuse it; allowed by the desk, it could take the one place a copy-trading rule gives
            self.log.decisions.append(Decision(signal.signal_id, acc, "execution", "veto", "instruments",
                                               f"rust_exec takes only {', '.join(self.venue_symbols[acc])} on this "
                                               "account (accounts[].limits.instruments)"))
            accounts.remove(acc)
        if signal.setup in self.reversing and not self.system_open and "execution" not in self.ignored:
            # an always-in-the-market strategy: the opposite signal ends the trade, in every account
            # not halted by its operator (an account's breaker stops openings, not closes)
            self._close_opposite(signal, [a for a in self.account_ids if a not in self.operator_halts
                                          and "*" not in self.operator_halts])
        if not accounts:
            return
        if scored is not None:
            numbers = (("probability", round(scored.probability, 6)), ("model_version", float(scored.model.version)))
            reason = scored.reason(self.settings.learning.mode)
            for acc in accounts:
                self.log.decisions.append(Decision(signal.signal_id, acc, "learning", "skip" if scored.skip else "pass",
                                                   "model", reason, numbers))
            if scored.skip:
                return
            signal = scored.signal  # its confidence the model's (the signal recorded is the detector's)
        # One sequenced call in flight per agent: Ray does not promise to retry two in their order
        # after a restart, and a sizing applied before the trades it should see is refused as stale.
        rt.get(self.risk_trades)
        self.risk_trades = []
        self._lap("advance")
        began = time.perf_counter()
        try:
            ctx = run_saga(SagaContext(signal, accounts, self.snapshots, self.mids, self.headrooms, self.call,
                                       self.reduced))
            self.log.saga_ms.append((time.perf_counter() - began) * 1000)
        except ExecUnavailable as exc:
            self.health.venue_error = _cause(exc)
            for acc in accounts:
                self.log.decisions.append(Decision(signal.signal_id, acc, "execution", "veto", "venue",
                                                   "rust_exec unreachable"))
            return
        self.log.decisions.extend(ctx.decisions)
        if ctx.update is not None:
            sent = {o.client_order_id: o for o in ctx.update.submitted}  # as rust_exec has them
            self.sent.update(sent)
            placed: set[str] = set()
            inst = self.registry.index(signal.symbol)  # its latency runs from the tick of its own that closed the bar
            for report in ctx.update.reports:  # once per order the venue took, part filled or not
                if report.status.placed and report.client_order_id in sent and report.client_order_id not in placed:
                    placed.add(report.client_order_id)
                    self.log.orders.append(sent[report.client_order_id])
                    self.log.tick_to_order_ms.append((time.perf_counter() - self.feed.arrived_at(signal.ts_ns, inst)) * 1000)
            self._book(ctx.update)
        self._lap("saga")

    def _model_notes(self) -> None:
        """A model loaded, dropped or refused (``TrustGate.refresh``), noted in the audit trail."""
        for change in self.trust.changes:
            self.log.notes.append(("model", self.clock, {"event": change, **self.trust.status()}))
        self.trust.changes.clear()

    def _close_opposite(self, signal: Signal, accounts: list[str]) -> None:
        """Close the accounts' positions in the signal's instrument on the other side, at the next
        quote, each recorded as the execution step's decision of this signal."""
        rt.get(self.risk_trades)  # (one sequenced call in flight per agent: see _saga)
        self.risk_trades = []
        reason = f"closed: opposite {signal.setup} signal"
        try:
            update = rt.get(self.topo.agents["execution"].call("close_opposite", signal.symbol, signal.side,
                                                                 accounts, reason))
        except ExecUnavailable as exc:
            self.health.venue_error = _cause(exc)
            return
        for acc, _, what in update.closing:
            held = what.startswith("held:")
            self.log.decisions.append(Decision(signal.signal_id, acc, "execution", "hold" if held else "close",
                                               "min_hold" if held else "opposite signal", what))
        self._book(update)

    def _analysed(self, refs: list[Any]) -> list[AnalysisOutput]:
        """Each shard's output; a shard that fails or whose agent breaker is open is left out."""
        out = []
        for (_, shard), ref in zip(self.topo.analysis, refs, strict=True):
            try:
                result = rt.get(ref)
            except Exception as exc:  # a shard's failure: on Ray wrapped by Ray, in process as raised
                if not isinstance(ref, rt.Done):
                    from ray.exceptions import RayActorError, RayTaskError

                    if not isinstance(exc, (RayTaskError, RayActorError)):
                        raise
                self.health.errors[shard.name] += 1
                self.log.dead_letters.append(f"{shard.name} failed: {type(exc).__name__}")
                continue
            if shard.name not in self.ignored:
                out.append(result)
        return out

    def _beat(self) -> None:
        """The agents' heartbeats, then the books against rust_exec (so after any restart)."""
        self.beat_at = time.perf_counter()
        self._heartbeat()
        self._reconcile()

    def _heartbeat(self) -> None:
        """Ask every agent for its counters, with a deadline: a missed answer is a missed heartbeat."""
        timeout = self.settings.agents.breaker.heartbeat_timeout_seconds
        refs = {ref.name: ref.handle.info.remote() for ref in self.topo.all()}
        ready, _ = rt.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
        done = set(ready)
        now = time.time()
        for name, r in refs.items():
            before = self.agent_seen.get(name, {"calls": 0, "busy_s": 0.0})
            if r not in done:
                self.health.agents[name] = AgentHealth(heartbeat_ok=False, errors=self.health.errors[name])
                if name in self.agent_seen:  # (what `desk status` and the API show of it)
                    before["heartbeat_ok"], before["missed"] = False, int(before.get("missed", 0)) + 1
                continue
            info = rt.get(r)
            calls = info["calls"] - before["calls"]
            mean_ms = (info["busy_s"] - before["busy_s"]) / calls * 1000 if calls > 0 else 0.0
            # (its restarts: the shell counts them, in the state it restores)
            self.agent_seen[name] = {**info, "heartbeat_at": now, "heartbeat_ok": True,
                                     "missed": int(before.get("missed", 0))}
            self.health.agents[name] = AgentHealth(mean_ms, self.health.errors[name], True)

    def _halt(self, reason: str, ts_ns: int, started: float) -> None:
        """Halt and flatten at rust_exec directly, not behind an actor call. The execution agent
        books the cancels and closes it caused at its next call (rust_exec's replies say what
        others caused), here the flatten right after. An unreachable venue is retried next review."""
        try:
            sent = time.perf_counter()
            self.venue.halt(reason, cancel_working=True, flatten=True, ts_ns=ts_ns)
            done = time.perf_counter()
            self.log.halt_latency_ms.append((done - started) * 1000)
            self.log.halt_rpc_ms.append((done - sent) * 1000)
            self.desk_halted, self.pending_halt = True, ""
            self._book(self.topo.agents["execution"].call("flatten", None, reason))
        except ExecUnavailable as exc:
            self.pending_halt = reason
            self.health.venue_error = _cause(exc)

    def _review(self, ts_ns: int, last_ts: dict[str, int]) -> None:
        """The breaker's review at ``ts_ns``, of each instrument's last tick before (``last_ts``; one
        made from a bar stands for it until its next quote) and of what happened since the last."""
        agents = self.topo.agents
        self.reviewed_at = max(self.reviewed_at, ts_ns)
        for symbol, t in last_ts.items():
            self.last_tick[symbol] = max(self.last_tick.get(symbol, 0), t)
        started = time.perf_counter()
        standing = {symbol: t + self.spacing.get(symbol, 0) for symbol, t in last_ts.items()}
        update: BreakerUpdate = rt.get(agents["breaker"].call("on_batch", ts_ns, standing, self.headrooms,
                                                               self.health.take()))
        self.log.breaker_events.extend(update.events)
        self.breaker_due = update.next_due_ns
        self.blocked = update.blocked_accounts
        self.reduced = update.reduced_accounts
        self.ignored = update.ignored_agents
        self.topo.restart(update.restart_agents)  # the agent tier; Ray brings each back from its snapshot
        if update.system_open and not self.system_open:
            trigger = next((e.trigger for e in update.events if e.tier is Tier.SYSTEM), "system breaker open")
            self.system_open = True
            if self.health.kill_switch:  # an operator halted the venue: flatten, leave their halt alone
                self._book(agents["execution"].call("flatten", None, f"kill switch: {trigger}"))
            else:
                # Straight to rust_exec, not through the execution actor: the halt must not wait
                # behind an actor call. The actor books the cancels and closes it caused at its next
                # call (rust_exec replies say what others caused), here the flatten below.
                self._halt(f"{SYSTEM_BREAKER_HALT}{trigger}", ts_ns, started)
        elif update.system_open and self.pending_halt:  # the venue was unreachable when we halted
            self._halt(self.pending_halt, ts_ns, time.perf_counter())
        elif self.system_open and not update.system_open:
            if self.desk_halted:
                self.desk_halted = False
                if "*" in self.operator_halts:  # the operator's lock of the venue outlives the breaker's
                    self._venue_halt(*self.operator_halts["*"])
                elif self._still_the_breakers():  # a kill switch set since is not the breaker's to lift
                    rt.get(agents["execution"].call("resume"))
            self.pending_halt = ""
        self.system_open = update.system_open
        for acc in update.flatten_accounts:  # after the system tier: a halt never waits behind these
            self._book(agents["execution"].call("flatten", acc, "breaker: daily headroom"))
        self._warn(ts_ns)

    def _warn(self, now_ns: int) -> None:
        """Alerts ahead of a firm's deadline, each recorded once in the audit trail (``warning``, which `GET /alerts`
        lists), the lead counted in time the FX market is open (a weekend or a break closing every instrument of
        the desk in between adds to it):

        - an account its firm's inactivity rule closes unless it enters a trade within ``desk.warn_idle_days``
          (less on a short stretch: ``_idle_lead``), or, seen only once past (a desk started late), that it has
          broken it;
        - a news calendar that stops covering orders within ``desk.warn_news_days``, and again once it has (from
          then a firm's news rule refuses every order of its accounts): past its end, no calendar, or a week it
          has no events for;
        - the news calendar's or the market closures' file changed on disk and not read (``_watch``), or refused
          at a reload (``_reload``).

        An alert stays raised while its deadline stands; a new deadline (a trade entered, a calendar loaded) is a
        new alert. ``status()["warnings"]`` words those that stand as of now."""
        desk = self.settings.desk
        idle_on, news_lead = desk.warn_idle_days > 0, round(desk.warn_news_days * DAY_NS)
        idle = {acc: (h.idle_deadline_ns, self.rules[acc].activity.limit_ns) for acc in self.account_ids
                if idle_on and (h := self.headrooms.get(acc)) is not None and h.idle_deadline_ns}
        news: dict[int, list[str]] = {}  # the calendar's end, and the accounts whose firm's news rule needs it
        if news_lead and (accs := [acc for acc in self.account_ids if self.rules[acc].news.active]):
            news[self.news.covered_until(now_ns)] = accs
        # a file a reload refused (_reload): both stay as they were until a reload reads them
        due: dict[str, dict[str, Any]] = {f"file:{name}:{self.watched.get(name)}": {"rule": name, "due_ns": None,
                                                                                    "text": text}
                                          for name, text in self.file_errors.items()}
        for name, (how, _) in self.on_disk.items():  # one alert while the file differs from the one read
            due[f"on_disk:{name}"] = {
                "rule": name, "due_ns": None,
                "text": f"{name} {self._paths()[name].name} was {how} on disk and is not read: the desk keeps the one it "
                        "read; once the new file is whole, run `octet desk reload` (or POST /desk/reload), which reads "
                        "it (the desk never reads one by itself: it cannot tell a file still being written from a whole "
                        "one)"}
        if not idle and not news:
            return self._raise(due, now_ns)
        ends = sorted({d for d, _ in idle.values()} | set(news))
        left = dict(zip(ends, self._open_ns([now_ns] * len(ends), ends), strict=True))  # one call for all of them
        for acc, (deadline, limit) in idle.items():
            if deadline <= now_ns or left[deadline] <= self._idle_lead(deadline, limit):
                due[f"inactivity:{acc}:{deadline}"] = {"rule": "inactivity", "account_id": acc, "due_ns": deadline,
                                                       "text": self._idle_text(acc, deadline, now_ns, left[deadline])}
        for until, accs in news.items():
            if left[until] <= news_lead:
                past = until <= now_ns  # one alert while it covers nothing, whichever week it misses now
                due["news_calendar:now" if past else f"news_calendar:{until}"] = {
                    "rule": "news_calendar", "accounts": accs, "due_ns": until if len(self.news) else None,
                    "text": self._news_text(until, past, accs)}
        self._raise(due, now_ns)

    def _raise(self, due: dict[str, dict[str, Any]], now_ns: int) -> None:
        """Record the alerts due that were not already; those not due any more are let go (not raised again)."""
        for key, note in due.items():
            if key not in self.warned:
                self.log.notes.append(("warning", now_ns, note))
        self.warned = {key: (int(note["due_ns"] or 0), str(note["text"])) for key, note in due.items()}

    def _open_ns(self, starts: list[int], ends: list[int]) -> list[int]:
        """The FX market's open time from each start to its end (0 for an end not after it): weekends, and the
        breaks that close every instrument of the desk."""
        if self._all_closed is None:
            self._all_closed = self.closures.spans(self.registry.symbols, every=True)
        a, b = np.array(starts, np.int64), np.array(ends, np.int64)
        return [int(x) for x in np.where(b > a, fx_open_ns(a, np.maximum(a, b), self._all_closed), 0)]

    IDLE_NOTICE_MIN_NS = 3 * 3600 * NS_PER_S  # an inactivity alert's lead is never under this (or half the stretch)
    IDLE_RHYTHM_NS = DAY_NS * 5 // 4  # nor does it reach back within this of the stretch's start: a daily trader's

    def _idle_lead(self, deadline: int, limit: int) -> int:
        """How long before ``deadline`` (in open market) an account's inactivity alert comes: ``desk.warn_idle_days``,
        at most half the open market of the stretch and not within a day and a quarter of its start (an account
        that trades every market day is not alerted on a short stretch), and at least 3 hours (or half the
        stretch). Cached by deadline: a stretch never changes."""
        lead = self._leads.get(deadline)
        if lead is None:
            stretch = self._open_ns([deadline - limit], [deadline])[0]
            lead = min(round(self.settings.desk.warn_idle_days * DAY_NS), stretch // 2, stretch - self.IDLE_RHYTHM_NS)
            lead = max(lead, min(self.IDLE_NOTICE_MIN_NS, stretch // 2))
            if len(self._leads) > 4 * len(self.account_ids) + 64:
                self._leads.clear()
            self._leads[deadline] = lead
        return lead

    def _idle_text(self, acc: str, deadline: int, now_ns: int, open_ns: int) -> str:
        days = self.rules[acc].activity.max_idle_days
        if deadline <= now_ns:
            return (f"{acc}: no trade entered by {utc_text(deadline)}, {days} day{'s' if days != 1 else ''} after its "
                    "last: past its firm's inactivity rule, under which the firm closes the account")
        left = (deadline - now_ns) / DAY_NS
        market = f", {open_ns / DAY_NS:.1f} of them with the market open" if open_ns < deadline - now_ns else ""
        return (f"{acc}: its firm closes the account unless it enters a trade by {utc_text(deadline)} ({left:.1f} "
                f"days from now{market}). The desk enters one only when a signal comes and the rules allow it: enter "
                "one yourself if need be, then set accounts[].last_trade to it and stop and start the desk, which "
                "counts it from then (`desk status` shows the account's rooms, the audit trail its vetoes)")

    def _news_text(self, until: int, past: bool, accs: list[str]) -> str:
        """The news-calendar alert's words: when its orders are refused, why, and what to do."""
        calendar = self.settings.agents.compliance.news_calendar  # its name only: viewers see the alert
        who = f"every order of {', '.join(accs)} is refused, as the firm's news rule cannot be checked"
        load = "then run `octet desk reload` (the running desk reads it then, with no restart)"
        if not len(self.news):
            why = f"{Path(calendar).name} has no events" if calendar else "agents.compliance.news_calendar is not set"
            return (f"no news calendar is loaded ({why}): {who}; write one to agents.compliance.news_calendar (octet "
                    f"data news FILE --out ...), {load}")
        name = Path(calendar).name if calendar else "the news calendar"
        again = self.news.covered_again(until)
        if again and not self.news.covered_before(until):  # it starts later
            return (f"{name} covers orders only from {utc_text(again)}: until then {who}; write a calendar with the "
                    f"weeks before to agents.compliance.news_calendar, {load}")
        if again:  # weeks not exported between two that were
            weeks = (again - until) // (7 * DAY_NS)
            return (f"{name} has no events from {utc_text(until)[:10]} to {utc_text(again - DAY_NS)[:10]} ({weeks} "
                    f"week{'s' if weeks > 1 else ''} not exported): {'' if past else 'from ' + utc_text(until) + ' '}"
                    f"until {utc_text(again)} {who}; write a calendar with {'those weeks' if weeks > 1 else 'that week'} "
                    f"to agents.compliance.news_calendar, {load}")
        return (f"{name} " + ("covers no orders now: " if past else f"stops covering orders at {utc_text(until)}: from then ")
                + f"{who}; write the next export to agents.compliance.news_calendar (octet data news FILE --out ...), "
                + load)


