"""One settings object, read once from ``octet.yaml`` and the environment, passed down.

Environment variables override the file: ``OCTET_SESSION__TICKS=50000`` sets ``session.ticks``.
An invalid file raises ``SettingsError`` whose message names every bad key.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import reprlib
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from cluster.config.secrets import KafkaAccess
from trading.breaker import BreakerLimits
from trading.clocks import ZoneError, parse_clock
from trading.closures import MarketClosures
from trading.compliance import CostAllowance
from trading.errors import DomainError, InvalidValue
from trading.execution_style import ExecutionProfile
from trading.exposure import ExposureLimits
from trading.fx import ConversionRates
from trading.instruments import Instrument, InstrumentRegistry
from trading.news import read_calendar
from trading.orders import OrderType
from trading.passodds import MAX_PATH_FRACTIONS, MonitorSettings, read_trades_csv
from trading.presets import PRESET_DIR, UniqueKeyLoader, load_preset, preset_names, rules_from_dict
from trading.rules import FirmRules
from trading.sizing import RiskParameters
from trading.strategies import SmaCrossParams, StrategyName
from trading.wyckoff import WyckoffParams


class SettingsError(Exception):
    """The configuration cannot be used; the message names each bad key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # .inf seconds: never


class GeneratorSettings(_Model):
    """How one instrument moves in the replay generator (``cluster/adapters/feeds/replay``).

    start_price: first mid price. sigma_pips: noise per sqrt(minute), in pips.
    range_pips: height of the planted trading ranges. spread_pips: typical spread.
    ticks_per_minute: mean arrival rate before session and leg activity.
    """

    start_price: float = Field(gt=0)
    sigma_pips: float = Field(default=0.6, gt=0)
    range_pips: float = Field(default=30.0, gt=0)
    spread_pips: float = Field(default=0.7, gt=0)
    ticks_per_minute: float = Field(default=9.0, gt=0)


class InstrumentSettings(_Model):
    symbol: str = Field(min_length=1, max_length=32)  # the store's column
    base: str = Field(min_length=3, max_length=3)
    quote: str = Field(min_length=3, max_length=3)
    price_precision: int = Field(ge=0, le=8)
    pip_size: Decimal = Field(gt=0, le=Decimal(1_000_000))
    contract_size: int = Field(default=100_000, gt=0)
    generator: GeneratorSettings

    def to_domain(self) -> Instrument:
        return Instrument(self.symbol, self.base, self.quote, self.price_precision, self.pip_size,
                          self.contract_size)

    @model_validator(mode="after")
    def _an_instrument(self) -> InstrumentSettings:
        try:
            self.to_domain()
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        return self


class ProfileSettings(_Model):
    """An execution profile (see ``trading.execution_style.ExecutionProfile``)."""

    order_type: OrderType = OrderType.MARKET
    delay_seconds: tuple[float, float] = (0.0, 0.0)
    expiry_seconds: float = Field(default=120.0, gt=0)
    take_profit_ladder: list[tuple[Decimal, int]] = [(Decimal(1), 0)]
    size_variance_pct: Decimal = Field(default=Decimal(0), ge=0, lt=50)
    max_slippage_pips: Decimal = Field(default=Decimal("1.5"), gt=0)

    def to_domain(self, name: str) -> ExecutionProfile:
        data = self.model_dump()
        data["take_profit_ladder"] = tuple(tuple(x) for x in data["take_profit_ladder"])
        return ExecutionProfile(name, **data)


class RiskSettings(_Model):
    risk_per_trade_pct: Decimal = Field(default=Decimal("0.5"), gt=0, le=5)
    min_confidence: float = Field(default=0.3, ge=0, le=1)
    drawdown_cut_pct: Decimal = Field(default=Decimal("2.0"), gt=0)
    headroom_share: Decimal = Field(default=Decimal("0.25"), gt=0, le=1)
    kelly_fraction: Decimal = Field(default=Decimal("0.25"), ge=0, le=1)  # 0: no Kelly cap
    kelly_min_trades: int = Field(default=20, ge=1)
    # take the pass-odds monitor's best risk per trade when it is lower than risk_per_trade_pct
    pass_odds_risk: bool = False

    def to_domain(self) -> RiskParameters:
        return RiskParameters(**self.model_dump())


I64_MAX = 2**63 - 1


def exact_integer(value: Decimal, scale: int, field: str, unit: str) -> int:
    """``value * scale`` as an int, refusing a value that does not convert exactly (or overflows i64)."""
    scaled = value * scale
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field} = {value:f} is finer than rust_exec's limits take ({unit}); round it")
    if scaled > I64_MAX:
        raise ValueError(f"{field} = {value:f} is too large for rust_exec")
    return int(scaled)


class LimitSettings(_Model):
    """rust_exec's last-line limits of one account, checked after every check of the desk. rust_exec
    takes them as integers, compared exactly: lots in millionths, notional in US cents."""

    max_order_lots: Decimal = Field(default=Decimal(20), gt=0)
    max_open_notional_usd: Decimal = Field(default=Decimal(10_000_000), gt=0)
    instruments: list[str] = []  # empty = every configured instrument

    @model_validator(mode="after")
    def _exact(self) -> LimitSettings:
        self.max_order_lots_e6()
        self.max_open_notional_usd_cents()
        return self

    def max_order_lots_e6(self) -> int:
        """``max_order_lots`` in millionths of a lot, as rust_exec's configuration takes it."""
        return exact_integer(self.max_order_lots, 1_000_000, "max_order_lots", "millionths of a lot")

    def max_open_notional_usd_cents(self) -> int:
        """``max_open_notional_usd`` in US cents, as rust_exec's configuration takes it."""
        return exact_integer(self.max_open_notional_usd, 100, "max_open_notional_usd", "US cents")


class AccountSettings(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)  # the store's columns hold 64
    owner: str = Field(default="desk", min_length=1, max_length=64)
    firm: str = Field(max_length=64)
    balance: Decimal = Field(gt=0, le=Decimal(10**12))  # 1e40 would overflow the ledger's and rust_exec's sums
    currency: str = Field(default="USD", min_length=3, max_length=3)
    commission_per_lot: Decimal = Field(default=Decimal("3.5"), ge=0)
    profile: str = Field(default="default", max_length=64)
    risk: RiskSettings = RiskSettings()
    limits: LimitSettings = LimitSettings()
    # when the account last entered a trade before this desk took it (or was issued, if it never has):
    # a firm's inactivity clock (FundedNext: 30 days without a trade) runs from there. UTC unless it
    # names a zone; none: from the desk's first tick
    last_trade: datetime | None = None

    @field_validator("last_trade")
    @classmethod
    def _last_trade_in_range(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if not 1971 <= value.year <= 2199:
            raise ValueError(f"{value.isoformat()} is out of range (1971 to 2199)")
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SessionSettings(_Model):
    """A replay session: how many ticks, from when, in what batches."""

    seed: int = 7
    ticks: int = Field(default=200_000, gt=0, le=10**12)
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    batch_size: int = Field(default=2_000, ge=1)  # a batch closes at batch_size ticks or linger_ms, the first
    linger_ms: float = Field(default=5.0, ge=0)   # after its first tick (only a paced or live feed ever waits)
    bar_seconds: int = Field(default=60, ge=1)
    # a recorded file instead of the generator (docs/data.md): its format (auto: told from its first
    # line), instrument (else from its name), clock (required for MT5 exports and naive times: an IANA
    # zone, +02:00, or NY+7 for broker server time), the generic format's columns and time format, the
    # bars' spread in points and price side, and how many unusable rows may be skipped (strict: none)
    data_file: Path | None = None
    data_format: Literal["auto", "octet", "mt5", "histdata", "dukascopy", "generic"] = "auto"
    data_symbol: str | None = None
    data_tz: str | None = None
    data_columns: dict[str, str] = Field(default_factory=dict)
    data_time_format: str | None = None
    data_spread_points: int | None = Field(default=None, ge=0)
    data_price_side: Literal["bid", "ask", "mid"] | None = None
    data_strict: bool = False
    data_max_skipped: float = Field(default=0.01, ge=0, le=1)
    # a price this many times above or below the rows on both sides of it is skipped as a bad print
    # (docs/data.md); 0: no check (data whose real moves double and come back within a few rows)
    data_spike_factor: float = Field(default=2.0, ge=0, le=1000)

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, value: datetime) -> datetime:  # times are int64 nanoseconds: they end in 2262
        if not 1971 <= value.year <= 2199:
            raise ValueError(f"{value.isoformat()} is out of range (1971 to 2199, as a recorded file's times)")
        return value

    @field_validator("data_tz")
    @classmethod
    def _data_clock(cls, value: str | None) -> str | None:  # a field's check: its error names session.data_tz
        if value is not None:
            try:
                parse_clock(value)
            except ZoneError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("data_spike_factor")
    @classmethod
    def _spike_factor(cls, value: float) -> float:
        if 0 < value < 1.5:
            raise ValueError(f"{value}: 0 (no check) or at least 1.5 (a move of less than half would be a bad print)")
        return value


class SmaCrossSettings(_Model):
    """The reference strategy's parameters (``trading/strategies/sma_cross.py``)."""

    fast: int = Field(default=10, ge=1)
    slow: int = Field(default=30, ge=2)
    stop_pips: Decimal = Field(default=Decimal("20"), gt=0)
    target_pips: Decimal = Field(default=Decimal("40"), ge=0)  # 0: no target
    confidence: float = Field(default=0.5, ge=0, le=1)
    # true: always in the market, as the textbook crossover (and backtesting.py's example) is: the
    # opposite cross closes an account's open position in the instrument at the next quote, whatever
    # becomes of the new signal; false: each trade ends only at its stop or target
    close_on_opposite: bool = True

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossSettings:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self

    def to_domain(self) -> SmaCrossParams:
        return SmaCrossParams(self.fast, self.slow, self.stop_pips, self.target_pips, self.confidence)


class StrategySettings(_Model):
    """Which strategy gives each instrument's signals: ``default``, or the one ``instruments`` names."""

    default: StrategyName = "wyckoff"
    instruments: dict[str, StrategyName] = Field(default_factory=dict)
    sma_cross: SmaCrossSettings = SmaCrossSettings()

    def of(self, symbol: str) -> StrategyName:
        return self.instruments.get(symbol, self.default)


class RuntimeSettings(_Model):
    bus: Literal["inprocess", "kafka"] = "inprocess"
    store: Literal["sqlite", "postgres"] = "sqlite"
    live: Literal["inprocess", "redis"] = "inprocess"
    venue: Literal["rust_exec"] = "rust_exec"
    data_dir: Path = Path("var")
    ray_address: str | None = None
    ingress_actors: int = Field(default=1, ge=1, le=16)
    analysis_shards: int = Field(default=3, ge=1, le=64)
    # a session that is not a desk's deletes its agents' saved state (data_dir/state/<run_id>) when it
    # ends (it serves only restarts during the run); true keeps it, to be read
    keep_agent_state: bool = False


class DeskSettings(_Model):
    """The long-running desk (`octet desk start`): its feed, the work time brings, and its restart."""

    feed: Literal["replay", "file"] = "replay"  # the generator (session.*), or session.data_file
    speed: float | None = Field(default=1.0, gt=0, allow_inf_nan=False)  # market s per wall s; null = as fast as it goes
    max_gap_seconds: float = Field(default=60.0, gt=0)  # a longer market gap (a weekend) passes in this much
    idle_ms: float = Field(default=250.0, gt=0)  # with no tick for this long, time's work runs (resets, weekend)
    heartbeat_seconds: float = Field(default=2.0, gt=0)  # agents' heartbeats and reconciliation, at least this often
    # what a restart does with a position or order rust_exec holds and the desk's books do not (or the
    # reverse): adopt it into the books, or flatten it at the venue; either way an event with both sides
    reconcile_policy: Literal["adopt", "flatten"] = "flatten"
    stop_timeout_seconds: float = Field(default=120.0, gt=0)  # `octet desk stop` waits this long for the desk
    request_ttl_seconds: float = Field(default=30.0, gt=0)  # an operator's request older than this is refused
    # an alert (`GET /alerts`, the audit trail's `warning`) this many days of open FX market before a firm's
    # deadline: an account's inactivity rule closes it unless it enters a trade (less on a short stretch:
    # Session._idle_lead), and the news calendar a firm's news rule needs runs out (orders refused from then);
    # 0: no such alert
    warn_idle_days: float = Field(default=7.0, ge=0, le=3650)
    warn_news_days: float = Field(default=2.0, ge=0, le=3650)
    # how often the running desk looks at agents.compliance.news_calendar and market_closures: a file changed on
    # disk (then unchanged for as long again, with other bytes than those read) is alerted until `octet desk
    # reload` reads it (the desk never reads one by itself: it cannot tell one still being written); 0: never
    watch_seconds: float = Field(default=2.0, ge=0, le=3600)


class GatewaySettings(_Model):
    """The API gateway (`octet serve`, and `octet desk start` with ``enabled``): a FastAPI app on
    Ray Serve (docs/api.md). Loopback by default: serving beyond this host is a choice made here."""

    enabled: bool = True  # `octet desk start` brings it up with the desk
    host: str = "127.0.0.1"
    port: int = Field(default=8040, ge=1, le=65535)
    replicas: int = Field(default=2, ge=1, le=16)  # 2 on 2 cores: bench/gateway.py (docs/api.md)
    # Serve's ingress: HAProxy (Ray's HAProxy mode, kept to loopback and a private directory by
    # cluster/desk/topology.py; 4-6x the Python proxy's requests a second here) or Serve's Python proxy
    proxy: Literal["python", "haproxy"] = "haproxy"
    max_ongoing_requests: int = Field(default=64, ge=1, le=10_000)  # per replica; more wait in Serve's queue
    cors_origins: list[str] = []  # browsers on these origins may call the API (none by default)
    rate_limit_per_minute: int = Field(default=1200, ge=1, le=1_000_000)  # per key, per replica
    token_minutes: float = Field(default=15.0, gt=0, le=24 * 60)  # a login token's life
    cache_ms: int = Field(default=500, ge=0, le=60_000)  # views (runs, accounts, positions, equity) kept this long
    # the WebSocket stream (runtime.live: redis): the desk keeps the last stream_window messages for
    # clients that reconnect, sends quotes and headroom at most every stream_throttle_ms per instrument
    # or account; a client's queue holds stream_queue messages (beyond: dropped, counted, reported)
    stream_window: int = Field(default=10_000, ge=100, le=1_000_000)
    stream_throttle_ms: int = Field(default=250, ge=0, le=60_000)
    stream_queue: int = Field(default=1_000, ge=10, le=100_000)
    # per replica, and each open stream holds one of its max_ongoing_requests: at most those less a quarter (kept
    # for the API's requests; with every one held by a stream, the API stops answering)
    stream_clients: int = Field(default=48, ge=1, le=100_000)
    # a browser (no headers on a WebSocket) presents its key or token as the subprotocol
    # "octet.bearer.<token>" beside "octet"; on, it may instead send it as the stream's first message,
    # which the server must then read (up to 16 MB, its ASGI server's frame limit) before it knows who sent it
    stream_auth_message: bool = False
    # the dashboard (dashboard/, built by `make dashboard`) under / on the same port; its pages hold no
    # data (every figure comes from the API with the viewer's own key). dashboard_dir: another build
    dashboard: bool = True
    dashboard_dir: Path | None = None
    # where operators open Ray's own dashboard (a cluster's; a local session starts Ray without one):
    # the Agents page links it. http(s) only
    ray_dashboard_url: str | None = Field(default=None, pattern=r"^https?://[^\s\"'<>]{1,200}$")
    # backtests and replays started through the API (POST /api/v1/sessions), run at once on the desk's Ray
    sessions_at_once: int = Field(default=1, ge=1, le=16)
    # the app under plain uvicorn (serve.asgi) hands the objects it holds once built to gc.freeze, so
    # Python's full collections, which otherwise walk all of them (~190,000, 125 ms here), skip them
    # (Ray Serve does the same for its replicas by itself)
    gc_freeze: bool = True

    def streams_at_most(self) -> int:
        """The stream clients a replica takes: ``stream_clients``, but never more than ``max_ongoing_requests`` less a
        quarter (kept for the API's requests: each open stream holds one, and with every one held the API stopped
        answering). Not a refusal of the settings: a file written before must still steer a running desk."""
        return min(self.stream_clients, self.max_ongoing_requests - max(1, self.max_ongoing_requests // 4))


class TopicSettings(_Model):
    partitions: int = Field(default=1, ge=1, le=256)
    retention_hours: float = Field(default=168.0, gt=0)


class KafkaSettings(_Model):
    """The Kafka backbone (runtime.bus: kafka); see docs/operators.md, "Kafka"."""

    bootstrap: str | None = None     # host:port[,host:port]; null = a local broker under data_dir/kafka
    username: str | None = None      # with bootstrap: a SASL/SCRAM-SHA-256 user (the local broker has its own)
    password_file: Path | None = None  # that user's password, in a file only its owner can read
    group: str = "octet-ingress"     # the ingress actors' consumer group (where offsets are committed)
    max_buffered_batches: int = Field(default=8, ge=1)  # per ingress actor: beyond this it pauses its partitions
    poll_timeout_seconds: float = Field(default=120.0, gt=0)  # how long an ingress actor waits for a batch (broker down)
    topics: dict[str, TopicSettings] = {
        "md.ticks": TopicSettings(partitions=6, retention_hours=72),
        "md.bars": TopicSettings(partitions=3),
        "signals": TopicSettings(),
        "exec.reports": TopicSettings(partitions=3),
        "breaker.events": TopicSettings(),
        "audit": TopicSettings(retention_hours=24 * 365),
        "deadletter": TopicSettings(retention_hours=24 * 30),
    }

    def access(self) -> KafkaAccess | None:
        """How to reach the configured broker; None: the local one under data_dir/kafka."""
        return KafkaAccess(self.bootstrap, self.username, self.password_file) if self.bootstrap else None

    @model_validator(mode="after")
    def _sign_in(self) -> KafkaSettings:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together (a SASL/SCRAM user of the broker)")
        if self.username is not None and self.bootstrap is None:
            raise ValueError("username is for a broker at bootstrap; the local broker has its own user")
        return self

    @model_validator(mode="after")
    def _needed(self) -> KafkaSettings:
        missing = {"md.ticks", "md.bars", "signals", "exec.reports", "breaker.events", "audit", "deadletter"}
        missing -= set(self.topics)
        if missing:
            raise ValueError(f"kafka.topics lacks {', '.join(sorted(missing))}")
        return self


class StorageSettings(_Model):
    """Where records and live state go (see docs/operators.md, "Storage")."""

    # URLs may carry passwords: they are secrets, shown and stored as '**********' (get_secret_value() to use)
    url: SecretStr | None = None        # postgres: a SQLAlchemy URL; null = a local server under data_dir/postgres
    redis_url: SecretStr | None = None  # redis: a URL; null = a local server under data_dir/redis
    record_ticks: bool = False    # also write every clean tick to the time-series tables (research)
    # where agents save their state between calls: files (a SQLite file per agent under data_dir/state,
    # local disk) or database (the store's database: for a cluster, whose actors restart on other nodes)
    agent_state: Literal["files", "database"] = "files"
    # the key that signs the audit chain's anchors (32 random bytes, made on first use, mode 0600);
    # keep it off the database's host and back it up: null = data_dir/secrets/audit.key
    audit_key_file: Path | None = None
    # where the signed heads of the audit chain are appended after every batch: null = data_dir/audit/anchors.jsonl
    audit_anchor_log: Path | None = None


def address_problem(address: str) -> str:
    """Why ``address`` is not a gRPC ``host:port`` (a name or an IP, IPv6 in brackets, and a port from 1 to
    65535), or '' (gRPC would take 99999 modulo 65536 and reach another port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host.strip("[]") or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        return "not host:port with a port from 1 to 65535 (e.g. 127.0.0.1:50551)"
    if any(c.isspace() for c in address):
        return "not host:port (it holds a space)"
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return "not host:port (an IPv6 address goes in brackets: [::1]:50551)"
    return ""


class ExecutionSettings(_Model):
    """rust_exec: where it is, and how its paper venue fills."""

    address: str | None = None          # host:port of a running octet-exec; null = start one per session
    binary: Path | None = None          # default: rust_exec/target/release/octet-exec, then PATH
    fsync: bool = True                  # fsync the journal before every acknowledgement
    supervise: bool = True              # embedded: restart octet-exec if it dies
    # a backtest (`octet backtest`, sweeps) drives the same service inside its own process, without
    # a socket (rust_exec/py, built by `make setup`); false: a child octet-exec over gRPC, as a desk
    backtest_in_process: bool = True
    reconnect_seconds: float = Field(default=20.0, gt=0)  # how long a call retries an unreachable octet-exec
    metrics_port: int = Field(default=0, ge=-1, le=65535)  # Prometheus port (0 = any free port, -1 = off)
    slippage_points: int = Field(default=0, ge=0)          # added against every paper fill
    latency_ms: float = Field(default=0.0, ge=0)           # venue time before an order may fill
    liquidity_lots: Decimal = Field(default=Decimal(0), ge=0)  # lots one quote can fill (0 = unlimited)
    # Credentials (docs/operators.md, "Security"). Embedded, and for `octet exec-serve`, they are made
    # under data_dir/secrets/exec; with `address`, these point at the files that server's host made.
    tls: bool = True                    # false: plaintext, which octet-exec allows on loopback only
    mutual_tls: bool = False            # clients must also present a certificate of rust_exec's CA
    token_file: Path | None = None      # the desk's bearer token (default data_dir/secrets/exec/desk.token)
    ca_file: Path | None = None         # the CA that signed rust_exec's certificate (default .../ca.pem)
    cert_file: Path | None = None       # the desk's client certificate, for mutual TLS
    key_file: Path | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and (problem := address_problem(value)):
            raise ValueError(f"{value!r}: {problem}")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> ExecutionSettings:
        if self.mutual_tls and not self.tls:
            raise ValueError("mutual_tls needs tls: true (client certificates are part of TLS)")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (the desk's client certificate and its key)")
        return self


class BreakerSettings(_Model):
    """Thresholds of the circuit breaker (fractions of the daily limit, seconds)."""

    daily_headroom_halt: float = Field(default=0.5, gt=0, lt=1)
    daily_headroom_flatten: float = Field(default=0.25, gt=0, lt=1)
    stale_after_seconds: float = Field(default=300.0, gt=0)
    cooldown_seconds: float = Field(default=900.0, gt=0)
    probation_seconds: float = Field(default=600.0, gt=0)
    consecutive_losses: int = Field(default=5, ge=0)       # 0 = off
    slippage_points: float = Field(default=15.0, gt=0)     # mean adverse slippage over slippage_window fills
    slippage_window: int = Field(default=5, ge=1)
    rejects_per_day: int = Field(default=5, ge=0)          # 0 = off
    spread_blowout: float = Field(default=15.0, gt=1)      # x its instrument's usual spread (trading.breaker.SpreadWatch)
    agent_latency_ms: float = Field(default=1000.0, gt=0)  # mean call latency over a review
    hard_breach_reduce: float = Field(default=0.25, ge=0, le=1)  # pass-odds breach probability: halve risk (0 = off)
    heartbeat_every_batches: int = Field(default=5, ge=1)
    heartbeat_timeout_seconds: float = Field(default=2.0, gt=0)

    def to_domain(self) -> BreakerLimits:
        return BreakerLimits(self.daily_headroom_halt, self.daily_headroom_flatten, self.stale_after_seconds,
                             self.cooldown_seconds, self.probation_seconds, self.consecutive_losses,
                             self.slippage_points, self.slippage_window, self.rejects_per_day, self.spread_blowout,
                             self.agent_latency_ms, self.hard_breach_reduce)


class PassOddsSettings(_Model):
    """The pass-odds monitor (``trading.passodds.MonitorSettings`` has each field's meaning)."""

    enabled: bool = True
    paths: int = Field(default=10_000, ge=100, le=1_000_000)
    horizon_days: int = Field(default=60, ge=1, le=2_000)
    min_history_days: int = Field(default=10, ge=2)
    every_minutes: int = Field(default=60, ge=0)
    risk_fractions_pct: list[float] = Field(default=[0.25, 0.5, 0.75, 1.0, 1.5, 2.0], min_length=1, max_length=50)
    block_days: int = Field(default=5, ge=1, le=60)
    # days to draw from before an account has its own: a backtest's trades.csv (octet report writes it)
    prior_trades: Path | None = None

    @model_validator(mode="after")
    def _fractions(self) -> PassOddsSettings:
        if any(not 0 < f < 100 for f in self.risk_fractions_pct):
            raise ValueError("risk_fractions_pct: each a percentage of the initial balance in (0, 100)")
        compared = len(set(self.risk_fractions_pct)) + 1  # and the account's own risk
        if self.paths * compared > MAX_PATH_FRACTIONS:
            raise ValueError(f"paths x (risk_fractions_pct + 1) = {self.paths:,} x {compared} is over "
                             f"{MAX_PATH_FRACTIONS:,}: each evaluation would take seconds and gigabytes")
        if self.prior_trades is not None:
            try:
                read_trades_csv(self.prior_trades)
            except InvalidValue as exc:
                raise ValueError(f"prior_trades: {exc}") from None
        return self

    def to_domain(self) -> MonitorSettings:
        return MonitorSettings(self.enabled, self.paths, self.horizon_days, self.min_history_days,
                               self.every_minutes, tuple(sorted({f / 100 for f in self.risk_fractions_pct})),
                               self.block_days)


class ComplianceSettings(_Model):
    slippage_pips: Decimal = Field(default=Decimal(1), ge=0)
    safety_buffer_pct: Decimal = Field(default=Decimal(10), ge=0, lt=100)
    # high-impact events for news blackouts: a calendar export (`octet data news FILE` checks one;
    # layouts in trading/news.py); a sample ships. news_calendar_tz: the zone of its times when they
    # carry none (ForexFactory, Investing.com exports)
    news_calendar: Path | None = PRESET_DIR / "news_2026.csv"
    news_calendar_tz: str | None = None
    # market closures besides the weekend (holidays, announced breaks; layout in trading/closures.py),
    # for a firm that forbids holding over a long break (holding.max_break_minutes: FTMO's FTMO Account).
    # The sample holds spot FX's Christmas and New Year closures: add the breaks your firm announces
    market_closures: Path | None = PRESET_DIR / "market_closures.csv"
    # where a phase's best-day rule is a condition of passing, cap each day's profit so it holds
    consistency_guard: bool = True
    pass_odds: PassOddsSettings = PassOddsSettings()

    @model_validator(mode="after")
    def _calendar(self) -> ComplianceSettings:
        if not _READ_FILES.get():  # a command that steers a running desk: the desk reads them, not it
            return self
        if self.news_calendar is not None:
            try:
                read_calendar(self.news_calendar, self.news_calendar_tz)
            except InvalidValue as exc:
                raise ValueError(f"news_calendar: {exc}") from None
        if self.market_closures is not None:
            try:
                MarketClosures.from_csv(self.market_closures)
            except InvalidValue as exc:
                raise ValueError(f"market_closures: {exc}") from None
        return self


class CorrelationSettings(_Model):
    per_currency: float = Field(default=10.0, gt=0)
    correlated_total: float = Field(default=15.0, gt=0)
    window_bars: int = Field(default=240, ge=30)


class LearningSettings(_Model):
    """Which signals to trust (docs/learning.md): the model the desk scores signals with, and how
    `octet learn` trains, judges and promotes one."""

    model: str = Field(default="signal_trust", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    use_model: bool = True  # the desk scores signals with the model's champion when there is one (none: unchanged)
    storage_path: Path | None = None  # the models' artefacts: null = data_dir/models
    # the champion's probability of profit skips a signal below skip_below, sets the signal's
    # confidence (ARIA sizes by it: a low win rate with large wins gives small sizes), or both
    mode: Literal["skip", "confidence", "both"] = "skip"
    # null: the break-even probability of the payoffs the model was trained on (the mean loss over the
    # mean win plus the mean loss, in R); a number overrides it
    skip_below: float | None = Field(default=None, ge=0, le=1)
    poll_seconds: float = Field(default=5.0, ge=0)  # how often the desk looks for a newly promoted champion
    # training (`octet learn`): walk-forward folds over the second half of the samples, an embargo
    # between each fold's training samples and its test block, a margin a challenger must beat the
    # champion by (out-of-sample AUC, on average and in most folds; and its trades no worse on average)
    folds: int = Field(default=4, ge=1, le=20)
    embargo_hours: float = Field(default=24.0, ge=0)
    margin: float = Field(default=0.02, ge=0, le=0.5)
    min_samples: int = Field(default=200, ge=20)
    workers: int = Field(default=1, ge=1, le=64)  # Ray Train workers per training run
    # where Ray Train and Tune keep a job's checkpoints while it runs (removed after it, when local):
    # null = storage_path/ray_train; on a cluster of several nodes a path every node shares (NFS, s3://)
    train_storage: str | None = None
    tune_trials: int = Field(default=4, ge=1, le=64)  # hyper-parameter sets tried by Ray Tune
    boost_rounds: int = Field(default=150, ge=1, le=5000)
    seed: int = 0


class AgentsSettings(_Model):
    analysis: dict[str, Any] = {}  # checked, one line per mistake, by wyckoff_params
    breaker: BreakerSettings = BreakerSettings()
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)  # made at load: it reads files
    correlation: CorrelationSettings = CorrelationSettings()
    actor_max_restarts: int = -1

    @field_validator("analysis")
    @classmethod
    def _thresholds(cls, value: dict[str, Any]) -> dict[str, Any]:
        wyckoff_params(value)  # here, not after the whole model, so its mistakes come with the others
        return value


_COMMAND_LINE: ContextVar[dict[str, Any] | None] = ContextVar("octet_command_line", default=None)
# whether loading the settings reads the files they name (the news calendar, the market closures) to refuse a bad one
_READ_FILES: ContextVar[bool] = ContextVar("octet_read_files", default=True)


class _CommandLine(PydanticBaseSettingsSource):
    """The values ``load_settings`` was given (a command's options), nested by section."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole mapping comes from __call__

    def __call__(self) -> dict[str, Any]:
        return copy.deepcopy(_COMMAND_LINE.get() or {})


class Settings(BaseSettings):
    """Everything Octet is configured with. Sections: session, runtime, instruments, firms,
    profiles, accounts, agents, execution."""

    model_config = SettingsConfigDict(env_prefix="OCTET_", env_nested_delimiter="__", extra="forbid",
                                      frozen=True, allow_inf_nan=False)

    session: SessionSettings = SessionSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    desk: DeskSettings = DeskSettings()
    instruments: list[InstrumentSettings]
    firms: dict[str, dict[str, Any]] = {}
    profiles: dict[str, ProfileSettings] = {"default": ProfileSettings()}
    accounts: list[AccountSettings] = Field(min_length=1)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)  # made at load: its compliance reads files
    strategy: StrategySettings = StrategySettings()
    execution: ExecutionSettings = ExecutionSettings()
    storage: StorageSettings = StorageSettings()
    kafka: KafkaSettings = KafkaSettings()
    gateway: GatewaySettings = GatewaySettings()
    learning: LearningSettings = LearningSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the command line over the environment (OCTET_*), the environment over the file
        return _CommandLine(settings_cls), env_settings, init_settings

    @model_validator(mode="after")
    def _references_exist(self) -> Settings:
        symbols = [i.symbol for i in self.instruments]
        problems = []
        if len(set(symbols)) != len(symbols):
            problems.append(f"instruments: a symbol is defined twice in {symbols}")
        ids = [a.id for a in self.accounts]
        if len(set(ids)) != len(ids):
            problems.append(f"accounts: an id is defined twice in {ids}")
        problems += name_problems(self.firms, list(self.profiles), [(a.firm, a.profile) for a in self.accounts])
        for i, acc in enumerate(self.accounts):
            for sym in acc.limits.instruments:
                if sym not in symbols:
                    problems.append(f"accounts.{i}.limits.instruments: unknown instrument {sym!r}")
        for sym in self.strategy.instruments:
            if sym not in symbols:
                problems.append(f"strategy.instruments: unknown instrument {sym!r} (known: {', '.join(symbols)})")
        if (closures := self.agents.compliance.market_closures) is not None:  # read and checked in its section
            for brk in MarketClosures.from_csv(closures).closures:
                unknown = sorted((brk.symbols or frozenset()) - set(symbols))
                if unknown:  # a break of a symbol the desk does not know protects nothing: a typo, or another desk's
                    problems.append(f"agents.compliance.market_closures: {closures}:{brk.line}: unknown instrument "
                                    f"{', '.join(map(repr, unknown))} (known: {', '.join(symbols)}): name the "
                                    "instruments as `instruments` does, and only those the desk trades")
        if problems:  # each names its key; the currency routes below need the names right
            raise ValueError("\n".join(problems))
        rates = ConversionRates(self.registry())
        for i, acc in enumerate(self.accounts):  # every instrument's P&L must reach every account currency
            for inst in self.instruments:
                try:
                    rates.route(inst.quote, acc.currency)
                except DomainError as exc:
                    problems.append(f"accounts.{i}.currency: {acc.currency} account cannot book {inst.symbol}: {exc}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def models_path(self) -> Path:
        """Where the models' artefacts are kept (learning.storage_path, or data_dir/models)."""
        return self.learning.storage_path or self.runtime.data_dir / "models"

    # Domain views, built once from the validated settings.
    def registry(self) -> InstrumentRegistry:
        return InstrumentRegistry(i.to_domain() for i in self.instruments)

    def generator_profiles(self) -> dict[str, GeneratorSettings]:
        return {i.symbol: i.generator for i in self.instruments}

    def firm_rules(self, account: AccountSettings) -> FirmRules:
        """The account's rules: a firm of the ``firms`` section, or a shipped preset."""
        if account.firm in self.firms:
            return rules_from_dict(account.firm, self.firms[account.firm])
        return load_preset(account.firm)

    def profile(self, account: AccountSettings) -> ExecutionProfile:
        return self.profiles[account.profile].to_domain(account.profile)

    def cost_allowance(self, account: AccountSettings) -> CostAllowance:
        c = self.agents.compliance
        return CostAllowance(c.slippage_pips, account.commission_per_lot, c.safety_buffer_pct)

    def worst_slip_pips(self, account: AccountSettings) -> tuple[Decimal, Decimal]:
        """The slippage (pips) the compliance check's worst case counts on an order (its open-risk cap): at the
        entry, what the account's execution profile allows; at the stop, the compliance slippage allowance."""
        return self.profile(account).max_slippage_pips, self.agents.compliance.slippage_pips

    def with_pass_odds(self, enabled: bool) -> Settings:
        """These settings with the pass-odds monitor on or off."""
        c = self.agents.compliance
        compliance = c.model_copy(update={"pass_odds": c.pass_odds.model_copy(update={"enabled": enabled})})
        return self.model_copy(update={"agents": self.agents.model_copy(update={"compliance": compliance})})

    def exposure_limits(self) -> ExposureLimits:
        c = self.agents.correlation
        return ExposureLimits(c.per_currency, c.correlated_total)

    def wyckoff_params(self) -> WyckoffParams:
        return wyckoff_params(self.agents.analysis)


# the most bars a whole-number threshold may be: every one is a window or a count the detector keeps or
# walks, and the live tracker saves; the rank windows are kept whole, and the higher timeframe's bucket
# (htf_factor bars) must stay far inside a 64-bit count of nanoseconds even on weekly bars; a burst is
# looked for over each length up to burst_bars at every bar; rank_min_bars must be below a rank window
WHOLE_MAX = {"rank_bars": 10_000, "fall_bars": 10_000, "rank_min_bars": 9_999, "htf_factor": 1_000, "burst_bars": 100}
WHOLE_MAX_DEFAULT = 100_000
LIST_MAX = 8  # swing scales: each is walked at every bar
# thresholds for which 0 is a setting (off, none, or the first close inside), not a mistake
ZERO_MEANS = {"burst_bars": "0: none", "ar_sharp": "0: off", "spring_confirm": "0: the first close inside",
              "rank_min_bars": "0: only against a whole window", "c_replace_depth": "0: any depth"}
# the largest multiple or ratio (of the ATR, the height, phase A, the baseline ...): far beyond any use,
# and far inside what the detector's arithmetic holds
RATIO_MAX = 1e6
# thresholds that are a share from 0 (off) to below 1, and what each is
SHARES = {"gate_min": "the range gate's least score",
          "spring_gate_min": "the range gate's least score for a range a spring or upthrust proves",
          "c_gate_min": "the phase-C gate's least score for a spring or upthrust",
          "c_gate_shallow_min": "the phase-C gate's least score for a shallow spring or upthrust",
          "climax_rank": "the share of the rank_bars bars before that a climax's effort must exceed",
          "fall_rank": "the share of the fall_bars bars before that the fall into a climax must exceed"}


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 6, 4, 40, 40
_SHORT.maxlong = 40


def _shown(value: Any) -> str:
    """A setting's value as a message shows it: its repr, bounded (never built whole: YAML aliases can nest a
    value far larger than its file), cut short."""
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(key: str, value: Any, what: str) -> int | float:
    """A number from YAML (or written as a string, as an environment variable gives it): anything else --
    text, true/false, a list, nothing -- is refused in one line naming ``what``."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return value if abs(value) < 10**300 else (math.inf if value > 0 else -math.inf)  # a float can hold it
    raise _refused(key, what, value)


def _refused(key: str, what: str, value: Any) -> ValueError:
    """The one line that refuses ``agents.analysis.<key>``: what it must be, and what it was."""
    return ValueError(f"agents.analysis.{key}: {what} (got {_shown(value)})")


BOOLS = {True: True, False: False, "true": True, "false": False}


def _list(value: Any) -> Any:
    """A list as YAML gives it, or written as text (``[3, 10, 30]`` or ``3, 10, 30``, as an environment
    variable gives it); anything else is returned as it came, to be refused."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        parts = [part.strip() for part in text.split(",")]
        return parts if all(parts) else value
    return value


def _threshold(key: str, kind: str, value: Any) -> Any:
    """One ``agents.analysis`` value checked and coerced to its field's ``kind``; a ValueError (one line)
    when it cannot be."""
    top = WHOLE_MAX.get(key, WHOLE_MAX_DEFAULT)
    if kind.startswith("tuple"):
        what = f"a list of whole numbers from 1 to {top:,} (bars)"
        items = _list(value)
        if not isinstance(items, list) or not items:
            raise _refused(key, what, value)
        try:
            numbers = [_number(key, v, what) for v in items]
        except ValueError:
            raise _refused(key, what, value) from None
        if any(not math.isfinite(v) or int(v) != v or not 1 <= v <= top for v in numbers):
            raise _refused(key, what, value)
        if len(numbers) > LIST_MAX or any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise _refused(key, f"at most {LIST_MAX} scales, each larger than the one before (the first, the minor, "
                                "drives AR, ST and LPS)", value)
        return tuple(int(v) for v in numbers)
    if kind == "int":
        least = 0 if key in ZERO_MEANS else 1
        what = f"a whole number from {least} to {top:,}" + (f" ({ZERO_MEANS[key]})" if key in ZERO_MEANS else "")
        number = _number(key, value, what)
        if not (math.isfinite(number) and int(number) == number and least <= number <= top):
            raise _refused(key, what, value)
        return int(number)
    if kind == "bool":
        flag = BOOLS.get(value.strip().lower() if isinstance(value, str) else value) \
            if isinstance(value, str | bool) else None
        if flag is None:
            raise _refused(key, "true or false", value)
        return flag
    if key in SHARES:
        what = f"{SHARES[key]}, from 0 (off) to below 1"
        number = _number(key, value, what)
        if not 0 <= number < 1:
            raise _refused(key, what, value)
        return float(number) + 0.0  # -0 is 0
    zero = key in ZERO_MEANS
    what = (f"a number from 0 ({ZERO_MEANS[key].removeprefix('0: ')}) to {RATIO_MAX:,.0f}" if zero
            else f"a number above 0, at most {RATIO_MAX:,.0f}")
    number = _number(key, value, what)
    if not ((0 <= number if zero else 0 < number) and number <= RATIO_MAX):
        raise _refused(key, what, value)
    return float(number) + 0.0


def wyckoff_params(values: dict[str, Any]) -> WyckoffParams:
    """``agents.analysis`` as detector thresholds, each checked and coerced to its field's type. Every
    mistake is reported, one line each, in one ValueError."""
    fields = {f.name: f for f in dataclasses.fields(WyckoffParams)}
    out: dict[str, Any] = {}
    mistakes: list[str] = []
    wrong: set[str] = set()  # the keys whose value was refused
    for key, value in values.items():
        if key not in fields:
            mistakes.append(f"agents.analysis.{key}: unknown Wyckoff threshold (see trading/wyckoff/params.py)")
            continue
        try:
            out[key] = _threshold(key, str(fields[key].type), value)
        except ValueError as e:
            mistakes.append(str(e))
            wrong.add(key)
    # checks across keys, each made only when the key it names was set and every key it reads was valid (else
    # it would judge a default in place of the value given, and the value's own mistake is named already), all
    # named with the rest at once; a default that would do nothing with another key's setting is no mistake
    params = WyckoffParams(**out)

    def across(keys: tuple[str, ...], broken: bool, message: str) -> None:
        if broken and keys[0] in out and not wrong.intersection(keys):
            mistakes.append(f"agents.analysis.{keys[0]}: {message}")

    across(("spring_gate_test", "gate_min", "spring_gate_min"),
           params.spring_gate_test and not (params.gate_min > 0 and params.spring_gate_min > params.gate_min),
           "has no effect unless the gate is on and spring_gate_min is above gate_min "
           f"(gate_min {params.gate_min}, spring_gate_min {params.spring_gate_min})")
    across(("c_gate_shallow_min", "c_gate_min"),
           params.c_gate_shallow_min > 0 and not (params.c_gate_min > 0 and params.c_gate_shallow_min > params.c_gate_min),
           "has no effect unless the phase-C gate is on and c_gate_shallow_min is above c_gate_min "
           f"(c_gate_min {params.c_gate_min}, c_gate_shallow_min {params.c_gate_shallow_min})")
    across(("ar_sharp", "ar_sharp_floor", "ar_min_atr"), params.ar_sharp > 0 and params.ar_sharp_floor >= params.ar_min_atr,
           "has no effect unless ar_sharp_floor is below ar_min_atr (a sharp AR is one short of ar_min_atr; "
           f"ar_sharp_floor {params.ar_sharp_floor}, ar_min_atr {params.ar_min_atr})")
    across(("rank_min_bars", "rank_bars", "fall_bars"), params.rank_min_bars >= max(params.rank_bars, params.fall_bars),
           "has no effect unless it is below rank_bars or fall_bars (a window is ranked whole once it is full; "
           f"rank_min_bars {params.rank_min_bars}, rank_bars {params.rank_bars}, fall_bars {params.fall_bars})")
    across(("rank_min_bars", "climax_rank", "fall_rank"),
           params.rank_min_bars > 0 and params.climax_rank <= 0 and params.fall_rank <= 0,
           "has no effect unless climax_rank or fall_rank is on (it says from which bar they rank)")
    across(("c_replace_depth", "c_replaced_by_opposite", "c_replaced_by_same"),
           params.c_replace_depth > 0 and not (params.c_replaced_by_opposite or params.c_replaced_by_same),
           "has no effect unless c_replaced_by_opposite or c_replaced_by_same is on (it guards a replacement)")
    across(("c_replace_toward_context", "c_replaced_by_opposite"),
           params.c_replace_toward_context and not params.c_replaced_by_opposite,
           "has no effect unless c_replaced_by_opposite is on (it guards an opposite replacement)")
    from trading.wyckoff import gate

    if "gate_min" not in wrong:
        try:
            gate.ready(params.gate_min)  # the trees are read only with the gate on
        except ValueError as e:
            mistakes.append(f"agents.analysis.gate_min: {e}")
        if params.gate_min > 0 and "spring_gate_min" not in wrong:  # with the gate off, spring_gate_min is not used
            try:
                gate.ready(params.spring_gate_min, "spring_gate_min", "every range a spring or upthrust proves would be dropped")
            except ValueError as e:
                mistakes.append(f"agents.analysis.spring_gate_min: {e}")
    if "c_gate_min" not in wrong:
        try:
            gate.c_ready(params.c_gate_min)  # read only with the phase-C gate on
        except ValueError as e:
            mistakes.append(f"agents.analysis.c_gate_min: {e}")
        else:
            if params.c_gate_min > 0 and "c_gate_shallow_min" not in wrong:
                try:
                    gate.c_shallow_ready(params.c_gate_shallow_min)
                except ValueError as e:
                    mistakes.append(f"agents.analysis.c_gate_shallow_min: {e}")
    if mistakes:
        raise ValueError("\n".join(mistakes))
    return params


def error_lines(err: Any) -> list[str]:
    """One of pydantic's errors as the lines a user reads, each naming its key: a check may report several
    mistakes, one a line, each naming its own (``agents.analysis``); other messages get their field's key."""
    key = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return [line if not key or line.startswith(key + ".") else f"{key}: {line}" for line in msg.split("\n")]


def name_problems(firms: Any, profiles: list[str], accounts: list[tuple[Any, Any]]) -> list[str]:
    """What is wrong with the ``firms`` section's rules and with the firm and profile each account names
    (``accounts``: (firm, profile) of each), a line each naming its key."""
    problems = []
    presets = set(preset_names())
    for name, data in (firms.items() if isinstance(firms, dict) else []):
        if name in presets:  # it would replace the shipped rules silently: an account naming the preset gets these
            problems.append(f"firms.{name}: the name of a shipped preset; give your firm another name (an account "
                            f"that names {name!r} gets the preset's rules, checked against the firm's own pages)")
            continue
        if not isinstance(data, dict):
            continue  # a firm that is not a mapping: the section's own check names it
        try:
            rules_from_dict(name, data)
        except InvalidValue as exc:  # a missing key reads "is required", not "=None"
            problems.append(f"firms.{exc.field}: {exc.reason}" if exc.value is None else f"firms.{exc}")
        except (TypeError, ValueError, AttributeError, OverflowError):
            problems.append(f"firms.{name}: a firm is a mapping of its rules, each a value in range")
    known = [*(firms if isinstance(firms, dict) else {}), *preset_names()]
    for i, (firm, profile) in enumerate(accounts):
        if isinstance(firm, str) and firm not in known:
            problems.append(f"accounts.{i}.firm: unknown firm {firm!r} (known: {', '.join(known)})")
        if isinstance(profile, str) and profile not in profiles:
            problems.append(f"accounts.{i}.profile: unknown profile {profile!r} (known: {', '.join(profiles)})")
    return problems


def _raw_name_problems(data: dict[str, Any]) -> list[str]:
    """``name_problems`` on the file as written (with the command line's values), for when other settings
    fail and the model's own check of the names never runs: so one run names every bad key. Not when the
    environment sets firms, profiles or accounts (the file alone is not what the desk would read), nor
    over sections that are not mappings or lists (their own errors say so)."""
    if any(name.upper().startswith(("OCTET_FIRMS", "OCTET_PROFILES", "OCTET_ACCOUNTS")) for name in os.environ):
        return []
    firms, profiles = data.get("firms", {}), data.get("profiles", {"default": None})
    accounts = data.get("accounts")
    if not isinstance(firms, dict) or not isinstance(profiles, dict) or not isinstance(accounts, list):
        return []
    pairs = [(a.get("firm"), a.get("profile", "default")) if isinstance(a, dict) else (None, None) for a in accounts]
    return name_problems(firms, [str(p) for p in profiles], pairs)


def _stray_variables() -> list[str]:
    """``OCTET_*`` variables that look meant for the settings but name no section of them: the settings' reader
    skips them, so a typo's value would be dropped without a word. Refused: a variable with ``__`` whose section
    is unknown (``OCTET_SESION__TICKS``); one with a single ``_`` where ``__`` belongs, when what follows is a
    key of that (or a near) section (``OCTET_SESSION_TICKS``, ``OCTET_STORAGE_URL``); one whose name is close to
    a section's (``OCTET_SESION``). Others without ``__`` are taken for other tools' (``OCTET_EXEC_BINARY``)."""
    sections = sorted(Settings.model_fields)

    def near(word: str, cutoff: float = 0.75) -> str | None:
        if word in sections:
            return word
        found = difflib.get_close_matches(word, sections, n=1, cutoff=cutoff)
        return found[0] if found else None

    def keys_of(section: str) -> set[str] | None:  # None: any key (a mapping of names, as firms); a list: none
        kind = Settings.model_fields[section].annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return set(kind.model_fields)
        return None if str(kind).startswith("dict") else set()

    out = []
    for name in sorted(os.environ):
        if not name.upper().startswith("OCTET_"):
            continue
        body = name[len("OCTET_"):]
        head, nested, rest = body.partition("__")
        if head.lower() in sections:
            continue
        if nested:
            section = near(head.lower())
            hint = f"did you mean OCTET_{section.upper()}__{rest.upper()}?" if section else \
                f"the sections are {', '.join(sections)}"
            out.append(f"  {name}: names no settings section ({hint})")
            continue
        parts = body.lower().split("_")
        for i in range(1, len(parts)):  # a single _ where __ belongs: OCTET_SESSION_TICKS
            section, key = near("_".join(parts[:i])), "_".join(parts[i:])
            known = keys_of(section) if section else set()
            if section and (known is None or key in known):
                out.append(f"  {name}: names no settings section (did you mean OCTET_{section.upper()}__{key.upper()}?)")
                break
        else:
            section = near(body.lower(), 0.85)  # a whole section's name misspelt (OCTET_RUNTIME_ENV is another's)
            if section:
                out.append(f"  {name}: names no settings section (did you mean OCTET_{section.upper()}?)")
    return out


def _given_elsewhere(key: str, overrides: dict[str, Any]) -> str:
    """Where a setting's value came from when not from the file: `` (given on the command line)`` (the
    command line wins over the environment), `` (from OCTET_...)``, or nothing. Only an option or a
    variable of that very key is named (a whole section's variable, as OCTET_SESSION, is not traced)."""
    section, _, name = key.partition(".")
    if name and "." not in name and f"{section}__{name}" in overrides:
        return " (given on the command line)"
    env = "OCTET_" + key.upper().replace(".", "__")
    if key and any(name.upper() == env for name in os.environ):
        return f" (from {env})"
    return ""


def _format(error: ValidationError, source: str, data: dict[str, Any] | None = None,
            overrides: dict[str, Any] | None = None) -> str:
    lines: list[str] = []
    for err in error.errors():
        got = f" (got {_shown(err['input'])})" if err["type"] != "value_error" and not isinstance(err.get("input"), dict) else ""
        where = _given_elsewhere(".".join(str(p) for p in err["loc"]), overrides or {})
        lines.extend(f"  {line}{got}{where}" for line in error_lines(err))
    if data is not None and not any(not err["loc"] for err in error.errors()):  # the model's check did not run
        try:
            extra = _raw_name_problems(data)
        except Exception:  # noqa: BLE001 - a best effort over a file that already failed; its errors are above
            extra = []
        lines.extend(f"  {line}" for line in extra if f"  {line}" not in lines)
    return "\n".join([f"{source}: {len(lines)} invalid setting(s)", *lines])


def _read_file(path: Path) -> dict[str, Any]:
    """The settings file's sections, as YAML gives them; SettingsError (one line) when it cannot be read."""
    try:
        data = yaml.load(path.read_text(), Loader=UniqueKeyLoader) or {}  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" in {Path.cwd()}"
        raise SettingsError(f"{path}: no such settings file{where} (run octet where it is, or name it with -c)") \
            from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text (a settings file is YAML)") from None
    except OSError as exc:  # a directory, a file it may not read
        raise SettingsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of sections")
    return data


STEERING_SECTIONS = ("runtime", "storage", "kafka", "desk")


class _Steering(BaseSettings):
    """The sections a command that steers a running desk reads (where the desk's files and store are, how long to
    wait on it), from the file and the environment as ``Settings`` reads them; the rest of the file is not read."""

    model_config = SettingsConfigDict(**{**Settings.model_config, "extra": "ignore"})  # Settings' own, less its rest

    runtime: RuntimeSettings = RuntimeSettings()
    storage: StorageSettings = StorageSettings()
    kafka: KafkaSettings = KafkaSettings()
    desk: DeskSettings = DeskSettings()


def load_steering_settings(path: str | Path = "octet.yaml") -> tuple[Settings, str | None]:
    """The settings for a command that steers a running desk (halt, flatten, stop, status, alerts): the whole file
    when it passes its checks, read without the files it names; when it does not (a check added since the desk
    started, a typo made since), its ``STEERING_SECTIONS`` alone, with the reason it failed as the second item.
    The kill switch must not wait on a firm's or an account's settings. Only ``runtime``, ``storage``, ``kafka``
    and ``desk`` of such settings are set: nothing else is to be read of them. SettingsError when those sections
    fail too, or the file cannot be read at all."""
    try:
        return load_settings(path, read_files=False), None
    except SettingsError as exc:
        problem = str(exc)
    data = _read_file(Path(path))  # unreadable or not a mapping: refused in load_settings's words above
    try:
        part = _Steering(**{k: v for k, v in data.items() if k in STEERING_SECTIONS})
    except ValidationError as exc:  # what steering needs is bad too: that is what to fix first
        raise SettingsError(_format(exc, str(path))) from None
    except (SourceError, RecursionError) as exc:
        raise SettingsError(f"the environment (OCTET_* variables, read over {path}): {str(exc)[:200]}") from None
    token = _READ_FILES.set(False)
    try:
        return Settings.model_construct(runtime=part.runtime, storage=part.storage, kafka=part.kafka,
                                        desk=part.desk), problem
    finally:
        _READ_FILES.reset(token)


def load_settings(path: str | Path = "octet.yaml", read_files: bool = True, **overrides: Any) -> Settings:
    """Read and validate the settings file (and ``OCTET_*`` environment variables). ``read_files``: also read the
    news calendar and the market closures they name, and refuse them if bad (off for a command that steers a
    running desk: the kill switch must work whatever those files hold)."""
    path = Path(path)
    data = _read_file(path)
    given: dict[str, Any] = {}
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        given.setdefault(section, {})[name] = value
    stray = _stray_variables()
    if stray:
        raise SettingsError("\n".join([f"the environment (OCTET_* variables, read over {path}): {len(stray)} "
                                        "variable(s) the settings would ignore", *stray]))
    token, reading = _COMMAND_LINE.set(given), _READ_FILES.set(read_files)
    try:
        return Settings(**data)
    except ValidationError as exc:
        merged = copy.deepcopy(data)
        for section, values in given.items():
            part = merged.get(section)
            merged[section] = {**part, **values} if isinstance(part, dict) else values
        raise SettingsError(_format(exc, str(path), merged, overrides)) from None
    except (SourceError, RecursionError) as exc:  # an OCTET_* variable that cannot be read (not JSON, or nested too deep)
        raise SettingsError(f"the environment (OCTET_* variables, read over {path}): {str(exc)[:200]} (a variable "
                            "that sets a whole section holds JSON, as OCTET_AGENTS__ANALYSIS='{\"atr_period\": 14}', "
                            "merged with the file's; or set one key, as OCTET_AGENTS__ANALYSIS__ATR_PERIOD=14)") from None
    finally:
        _COMMAND_LINE.reset(token)
        _READ_FILES.reset(reading)
