"""Firm rule sets as typed data, and the day arithmetic they depend on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from trading.errors import InvalidValue
from trading.market import NS_PER_S, next_weekend_close_ns, ts_to_datetime


class DailyLossBasis(StrEnum):
    """What the day's loss is measured from at the firm's reset time."""

    BALANCE = "balance"
    MAX_BALANCE_EQUITY = "max_balance_equity"


class MaxLossKind(StrEnum):
    """How the overall loss floor moves.

    static: initial balance - limit, for good.
    trailing: follows the highest equity reached (intraday, floating P&L included).
    trailing_eod: follows the highest end-of-day balance, set at each reset (futures style).
    Both trailing kinds stop rising once the floor reaches the initial balance when
    ``lock_at_initial`` (as FTMO-style funded and futures firms do).
    """

    STATIC = "static"
    TRAILING = "trailing"
    TRAILING_EOD = "trailing_eod"


class CopyTrading(StrEnum):
    """Whether the same trade may be placed on several accounts at one firm."""

    ALLOWED = "allowed"
    SAME_OWNER = "same_owner"  # only between accounts of one owner (FundedNext, The5ers)
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class SizeLimits:
    """Lots and positions; 0 means no limit."""

    max_lots_per_order: Decimal = Decimal(0)
    max_lots_per_instrument: Decimal = Decimal(0)
    max_lots_total: Decimal = Decimal(0)
    max_positions_per_instrument: int = 0
    max_positions_total: int = 0


@dataclass(frozen=True, slots=True)
class Holding:
    """What may be held, and for how long at least.

    weekend / overnight: may a position stay open over the weekend close / past the daily reset.
    flat_minutes_before: when it may not, no position opens closer than this to the close, and
        the monitor flattens the account this long before it.
    min_hold_seconds: a trade the desk closes sooner is tick scalping (stops are protective and
        exempt); take-profits nearer than this allows are not sent.
    """

    weekend: bool = True
    overnight: bool = True
    flat_minutes_before: int = 15
    min_hold_seconds: int = 0


@dataclass(frozen=True, slots=True)
class NewsBlackout:
    """No order may open or close within this window around a high-impact event in one of the
    instrument's currencies (events from a calendar file)."""

    minutes_before: int = 0
    minutes_after: int = 0

    @property
    def active(self) -> bool:
        return bool(self.minutes_before or self.minutes_after)


@dataclass(frozen=True, slots=True)
class Objectives:
    """What a phase asks for; never a reason to take more risk.

    consistency_pct: the best day's profit may be at most this share of the total profit (0 = none).
    min_profitable_day_pct: a day counts as profitable when its closed P&L reaches this share of
        the initial balance (The5ers: 0.5).
    """

    profit_target_pct: Decimal = Decimal(0)
    min_trading_days: int = 0
    min_profitable_days: int = 0
    min_profitable_day_pct: Decimal = Decimal(0)
    time_limit_days: int = 0
    consistency_pct: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Conduct:
    """Prohibited practices across accounts: copying one trade between accounts at a firm within
    ``copy_window_seconds``, and holding opposite positions on one instrument across accounts."""

    copy_trading: CopyTrading = CopyTrading.ALLOWED
    hedging_across_accounts: bool = True
    copy_window_seconds: int = 60


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Where a preset's numbers come from and when they were read."""

    firm: str = ""
    program: str = ""
    urls: tuple[str, ...] = ()
    read_on: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class FirmRules:
    """One firm's rules for one account phase.

    daily_loss_pct: the day's loss limit, in percent of the initial balance; floating P&L counts.
    daily_loss_basis: the day's reference, taken at the reset time.
    daily_loss_hard: a breach ends the account (False: the day is paused, as Topstep does).
    max_loss_pct: the overall loss limit in percent of the initial balance.
    max_loss_kind, lock_at_initial: how the loss floor moves (see ``MaxLossKind``).
    reset_timezone, reset_time: when the trading day starts (e.g. Europe/Prague 00:00, DST-aware).
    size, holding, news, objectives, conduct: the other rules, each a typed object.
    """

    name: str
    daily_loss_pct: Decimal
    max_loss_pct: Decimal
    daily_loss_basis: DailyLossBasis = DailyLossBasis.BALANCE
    max_loss_kind: MaxLossKind = MaxLossKind.STATIC
    reset_timezone: str = "Europe/Prague"
    reset_time: time = time(0, 0)
    daily_loss_hard: bool = True
    lock_at_initial: bool = True
    size: SizeLimits = SizeLimits()
    holding: Holding = Holding()
    news: NewsBlackout = NewsBlackout()
    objectives: Objectives = Objectives()
    conduct: Conduct = Conduct()
    source: RuleSource = RuleSource()

    def __post_init__(self) -> None:
        for name in ("daily_loss_pct", "max_loss_pct"):
            value = getattr(self, name)
            if not Decimal(0) < value < Decimal(100):
                raise InvalidValue(f"{self.name}.{name}", value, "must be a percentage between 0 and 100")
        try:
            ZoneInfo(self.reset_timezone)
        except Exception as exc:
            raise InvalidValue(f"{self.name}.reset_timezone", self.reset_timezone, "unknown time zone") from exc

    def flat_deadline_ns(self, ts_ns: int) -> tuple[int, str]:
        """The next instant by which a holding rule wants positions closed (0 = none), and which."""
        deadlines = []
        if not self.holding.weekend:
            deadlines.append((next_weekend_close_ns(ts_ns), "weekend holding"))
        if not self.holding.overnight:
            deadlines.append((self.next_reset_ns(ts_ns), "overnight holding"))
        if not deadlines:
            return 0, ""
        close, why = min(deadlines)
        return close - self.holding.flat_minutes_before * 60 * NS_PER_S, why

    def daily_loss_limit(self, initial_balance: Decimal) -> Decimal:
        return initial_balance * self.daily_loss_pct / 100

    def max_loss_limit(self, initial_balance: Decimal) -> Decimal:
        return initial_balance * self.max_loss_pct / 100

    def trading_day(self, ts_ns: int) -> date:
        """The firm's trading day that ``ts_ns`` belongs to (local date after the reset time)."""
        local = ts_to_datetime(ts_ns).astimezone(ZoneInfo(self.reset_timezone))
        shifted = local - timedelta(hours=self.reset_time.hour, minutes=self.reset_time.minute)
        return shifted.date()

    def next_reset_ns(self, ts_ns: int) -> int:
        """The first reset instant strictly after ``ts_ns``."""
        zone = ZoneInfo(self.reset_timezone)
        day = self.trading_day(ts_ns) + timedelta(days=1)
        local = datetime.combine(day, self.reset_time, tzinfo=zone)
        return int(local.timestamp()) * NS_PER_S
