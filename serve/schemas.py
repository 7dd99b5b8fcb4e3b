"""The API's documents (its OpenAPI schema). Money and prices are exact decimal strings; times are
integer nanoseconds since the epoch (UTC), as everywhere in Octet."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "trader", "admin"]
# free text that goes to the audit trail and the logs: no control character (C0, DEL, C1), line or
# paragraph separator, or bidirectional override (which would reorder what an operator reads)
TEXT = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(Doc):
    """One page of a list; ``next_cursor`` fetches the next (null: this was the last)."""

    next_cursor: str | None = None


class Whoami(Doc):
    key_id: str
    name: str
    role: Role


class Token(Doc):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: int = Field(description="seconds since the epoch")
    role: Role


class Run(Doc):
    run_id: str
    status: str
    started_ns: int = Field(description="the market time the run began at")
    ticks: int
    batches: int
    elapsed_s: float
    recorded_ns: int | None = Field(description="when it was begun, by the wall clock (null: before this was kept)")


class RunDetail(Run):
    summary: dict[str, Any] | None = None


class Runs(Doc):
    items: list[Run]


class Signal(Doc):
    signal_id: str
    symbol: str
    side: str
    ts_ns: int
    entry: str
    stop: str
    targets: list[str]
    confidence: float
    setup: str
    evidence: list[dict[str, Any]]
    atr: float | None = None  # the ATR at the signal (in price); null in rows recorded before it was kept
    # what the desk knew at the signal besides it (docs/learning.md); null in rows recorded before it was kept
    context: dict[str, float | None] | None = None


class Signals(Page):
    items: list[Signal]


class Decision(Doc):
    signal_id: str
    account_id: str
    step: str
    outcome: str
    rule: str
    reason: str
    numbers: dict[str, Any]


class Decisions(Doc):
    items: list[Decision]


class Order(Doc):
    client_order_id: str
    account_id: str
    symbol: str
    side: str
    lots: str
    order_type: str
    stop_loss: str
    take_profit: str | None
    limit_price: str | None
    reference_price: str
    signal_id: str
    profile: str
    seed: str
    leg: int
    not_before_ns: int
    expires_ns: int
    min_hold_ns: int
    max_slippage_points: int
    placed_ns: int | None = Field(description="the time of its first execution report")
    status: str | None = Field(description="its last execution report's status")


class Orders(Page):
    run_id: str = Field(description="the run these orders are of (an order's story takes it as ?run=)")
    items: list[Order]


class Fill(Doc):
    client_order_id: str
    account_id: str
    symbol: str
    side: str
    lots: str
    price: str
    ts_ns: int
    kind: str
    reason: str
    commission: str
    realized_pnl: str


class Fills(Page):
    run_id: str = Field(description="the run these fills are of (an order's story takes it as ?run=)")
    items: list[Fill]


class Trade(Doc):
    position_id: str
    account_id: str
    symbol: str
    side: str
    lots: str
    entry: str
    exit: str
    opened_ns: int
    closed_ns: int
    pnl: str
    commission: str
    initial_risk: str
    reason: str
    signal_id: str


class Trades(Page):
    items: list[Trade]


class Position(Doc):
    account_id: str
    position_id: str
    symbol: str
    side: str
    lots: str
    entry: str
    stop_loss: str
    take_profit: str | None
    price: str
    floating_pnl: str
    opened_ns: int
    as_of_ns: int


class Positions(Doc):
    items: list[Position]


class Headroom(Doc):
    ts_ns: int
    daily_headroom: str | None = Field(description="null for a firm without a daily loss rule")
    max_loss_headroom: str
    worst_case_daily_headroom: str | None = Field(description="with every open position stopped out")
    worst_case_max_loss_headroom: str
    daily_fraction: float
    daily_floor: str | None
    max_loss_floor: str | None
    pass_probability: float | None = Field(
        default=None, description="the pass-odds monitor's probability of passing the phase (null: no odds yet)")
    hard_breach_probability: float | None = Field(
        default=None, description="its probability of a daily- or maximum-loss breach before the phase ends")
    pass_risk_pct: float | None = Field(
        default=None, description="the risk per trade (percent of the initial balance) that passes most often")
    idle_deadline_ns: int | None = Field(
        default=None, description="the firm closes the account if no trade is entered by then (its inactivity rule; "
                                  "null: the firm has none)")


class Breaker(Doc):
    tier: str
    scope: str
    ts_ns: int
    from_state: str
    to_state: str
    trigger: str
    action: str


class FirmView(Doc):
    """What the account's firm rules say, as the dashboard shows them beside its headroom."""

    daily_loss_pct: str | None = Field(description="null: no daily loss rule")
    max_loss_pct: str
    max_loss_limit: str = Field(description="the loss allowed from the start, in account currency")
    timezone: str = Field(description="the firm's time zone, where its trading day starts")
    reset_time: str = Field(description="HH:MM, local to timezone")
    resets_ns: int = Field(description="the next reset after the account's last state (as_of_ns), ns since the epoch")


class Account(Doc):
    account_id: str
    firm: str
    currency: str
    initial_balance: str
    balance: str | None
    equity: str | None
    as_of_ns: int | None
    headroom: Headroom | None
    positions: list[Position]
    breakers: list[Breaker] = Field(description="the last transition of each breaker of this account and the desk")
    rules: FirmView | None = Field(None, description="its firm's limits and when its day resets (null: the firm "
                                                     "is neither in the gateway's settings nor a preset)")


class Accounts(Doc):
    run_id: str
    items: list[Account]


class BookInstrument(Doc):
    symbol: str
    net_lots: str
    long_lots: str
    short_lots: str
    accounts: dict[str, str] = Field(description="each account's signed lots (sells negative)")


class BookCurrency(Doc):
    currency: str
    net: str = Field(description="in the currency's own units: EURUSD long 1 lot at 1.10 is EUR +100000, USD -110000")
    firms: dict[str, str] = Field(description="each firm's part of the net")


class BookFirm(Doc):
    firm: str
    accounts: list[str] = Field(description="the firm's accounts with open positions")
    open_lots: str
    positions: int


class Book(Doc):
    run_id: str
    by_instrument: list[BookInstrument]
    by_currency: list[BookCurrency]
    by_firm: list[BookFirm]
    unknown_instruments: list[str] = Field(description="open positions in instruments the settings no longer define")


class EquityPoint(Doc):
    ts_ns: int
    balance: str
    equity: str
    min_equity: str | None = Field(description="the lowest equity in the span this point stands for")


class Equity(Doc):
    run_id: str
    account_id: str
    points_in_store: int
    items: list[EquityPoint]


class AuditRecord(Doc):
    seq: int
    run_id: str
    kind: str
    ts_ns: int
    signal_id: str | None
    order_id: str | None
    account_id: str | None
    payload: dict[str, Any]
    hash: str


class Story(Doc):
    client_order_id: str
    items: list[AuditRecord]


class OperatorRecords(Page):
    run_id: str
    items: list[AuditRecord] = Field(description="the run's operator records (kind operator), oldest first: who "
                                                 "did what (start, stop, halt, resume, flatten, ack, interrupted), "
                                                 "why, and the outcome, in the payload")


class AuditVerdict(Doc):
    ok: bool
    records: int
    first_bad: int | None
    reason: str
    anchored_to: int | None = Field(description="the last record a signed anchor vouches for (null: not checked)")
    problems: list[str]
    notes: list[str]


class Desk(Doc):
    running: bool
    state: str | None
    run_id: str | None
    phase: str | None
    status: dict[str, Any] = Field(description="`octet desk status`: counts, feed lag, accounts, agents")


class AgentHealth(Doc):
    name: str
    calls: int
    busy_s: float
    save_s: float
    methods: dict[str, list[float]] = Field(description="per method: [calls, busy seconds, mean ms]")
    pid: int | None = None
    restarts: int = Field(0, description="times Ray restarted it (a new process), its state restored each time")
    heartbeat_at: float | None = Field(None, description="its last answered heartbeat (seconds since the epoch)")
    heartbeat_ok: bool | None = Field(None, description="false: it did not answer the last heartbeat in time")
    missed_heartbeats: int = 0


class Agents(Doc):
    run_id: str | None
    ignored: list[str]
    items: list[AgentHealth]
    ray_dashboard: str | None = Field(None, description="the Ray dashboard's address (gateway.ray_dashboard_url)")


class ControlRequest(Doc):
    account: str = Field(default="", max_length=64, description="an account id; empty: the whole desk")
    reason: str = Field(min_length=1, max_length=500, pattern=TEXT)
    wait_seconds: float = Field(default=5.0, ge=0, le=30, description="how long to wait for the desk's answer")


class ControlAnswer(Doc):
    request_id: str
    action: str
    account: str
    outcome: str | None = Field(description="the desk's answer (null: not yet; GET /desk/requests/{id})")


class RequestAnswer(Doc):
    request_id: str
    outcome: str | None = Field(description="the desk's answer (null: not answered yet, or unknown)")


class ProblemDoc(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="urn:octet:problem:<slug>: stable, branch on it")
    title: str
    status: int
    instance: str
    detail: str | None = None


class Instrument(Doc):
    symbol: str
    base: str
    quote: str
    price_precision: int
    pip_size: str


class Instruments(Doc):
    items: list[Instrument]


class Bar(Doc):
    start_ns: int
    open: str
    high: str
    low: str
    close: str
    volume: int
    phase: str  # the Wyckoff phase at this bar's close, as the detector knew it then


class WyckoffRange(Doc):
    kind: str  # "accumulation", "distribution", "reaccumulation", ... or "" while undecided
    context: int  # +1 opened by a selling climax (after a fall), -1 by a buying climax
    start_ns: int  # the climax's bar
    end_ns: int | None  # the bar at which price left it (null: it lasts to the last bar)
    support: str
    resistance: str
    phase: str
    direction: int  # +1 after a spring or an SOS, -1 after an upthrust or an SOW, 0 not yet


class Bars(Doc):
    symbol: str
    seconds: int
    run_id: str | None
    truncated: bool  # more bars were in the window than limit
    items: list[Bar]
    ranges: list[WyckoffRange]
    events: list[dict[str, Any]]  # each: event, bar_ts_ns, price and its numbers
    signals: list[Signal]  # the desk's signals for the symbol in the window (of run_id)
    detected_signals: int  # signals the detector finds over these bars alone


class Alert(Doc):
    alert_id: str  # breaker-<n>, warning-<n>
    # "breaker": a breaker opened (an account's, or the desk's system breaker); "warning": the desk's alert
    # ahead of a firm's deadline (trigger: the rule, inactivity or news_calendar; action: what to do)
    kind: str
    ts_ns: int
    tier: str  # account or system
    scope: str  # the account, or "desk"
    trigger: str
    action: str
    due_ns: int | None = Field(default=None, description="a warning's deadline: the firm closes the account, or "
                                                           "orders are refused, from then")
    accounts: list[str] | None = Field(default=None, description="a news-calendar warning's accounts")
    acked_by: str | None = None
    acked_ns: int | None = None
    ack_note: str | None = None


class Alerts(Page):
    run_id: str
    items: list[Alert]


class AckRequest(Doc):
    note: str = Field(min_length=1, max_length=500, pattern=TEXT, description="what was seen or done")
    wait_seconds: float = Field(default=5.0, ge=0, le=30, description="how long to wait for the desk's answer")


class SessionRequest(Doc):
    """A backtest (as fast as the desk takes the ticks) or a replay (paced at ``speed``) over the
    replay generator's ticks, run on the desk's Ray as a run of its own."""

    kind: Literal["backtest", "replay"] = "backtest"
    ticks: int = Field(default=50_000, ge=1_000, le=5_000_000, description="generated ticks to run")
    seed: int = Field(default=7, ge=0, le=2**31 - 1, description="the generator's seed")
    speed: float | None = Field(default=None, gt=0, le=1_000_000, allow_inf_nan=False,
                                description="replay: market seconds per wall second (needed for a replay, "
                                            "refused for a backtest)")
    reason: str = Field(min_length=1, max_length=500, pattern=TEXT,
                        description="why (recorded in the run's audit trail)")


class StopRequest(Doc):
    reason: str = Field(min_length=1, max_length=500, pattern=TEXT,
                        description="why (recorded in the run's audit trail)")


class SessionProgress(Doc):
    ticks: int
    batches: int
    signals: int
    orders: int
    trades: int
    elapsed_s: float


class SessionInfo(Doc):
    run_id: str = Field(description="its run in the store (/runs/{run_id}, /orders?run=...)")
    kind: Literal["backtest", "replay"]
    state: Literal["starting", "running", "stopping", "stopped", "ended", "failed"]
    ticks: int
    seed: int
    speed: float | None
    started_by: str
    reason: str
    stopped_by: str | None
    started_at: float = Field(description="seconds since the epoch")
    ended_at: float | None
    error: str | None
    progress: SessionProgress


class Sessions(Doc):
    items: list[SessionInfo]
