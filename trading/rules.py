"""Firm rule sets as typed data, and the day arithmetic they depend on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

from trading.closures import MarketClosures
from trading.errors import InvalidValue
from trading.market import NS_PER_S, next_weekend_close_ns, ts_to_datetime


class DailyReference(StrEnum):
    """The day's reference, taken at the firm's reset instant from the account as it stood just
    before it (open positions valued at the last quotes before the reset)."""

    BALANCE = "balance"                        # FTMO, FundedNext: the balance at the reset
    MAX_BALANCE_EQUITY = "max_balance_equity"  # The5ers: the higher of the balance and the equity


class PercentOf(StrEnum):
    """What a daily-loss percentage is a share of."""

    INITIAL = "initial"      # the initial balance (FTMO: 5 % of 100k = 5,000 every day)
    REFERENCE = "reference"  # the day's reference (The5ers High Stakes: the floor is 95 % of it)


class Breach(StrEnum):
    """When equity standing exactly on a floor breaks the rule, as the firm words it."""

    AT_OR_BELOW = "at_or_below"  # "reaches the limit", "hits", "reaches ... or lower"
    BELOW = "below"              # only "falls below", "exceeds"

    def broken(self, headroom: Decimal) -> bool:
        """Does ``headroom`` (equity less the floor) break a rule compared this way?"""
        return headroom < 0 or (headroom == 0 and self is Breach.AT_OR_BELOW)


class MaxLossKind(StrEnum):
    """How the overall loss floor moves.

    static: initial balance - limit, for good.
    trailing: follows the highest equity reached (intraday, floating P&L included).
    trailing_eod: follows the highest end-of-day balance, set at each reset (Topstep, FTMO 1-Step).
    trailing_day_high: follows the highest balance reached during any day (closed P&L), set at
        each reset (FundedNext Futures: "the highest balance your account reached that day").
    The trailing kinds stop rising once the floor reaches the initial balance when the firm says
    so (``lock_at_initial``, which every firm must state: there is no default).
    """

    STATIC = "static"
    TRAILING = "trailing"
    TRAILING_EOD = "trailing_eod"
    TRAILING_DAY_HIGH = "trailing_day_high"


class CopyTrading(StrEnum):
    """Whether the same trade may be placed on several accounts at one firm."""

    ALLOWED = "allowed"
    SAME_OWNER = "same_owner"  # only between accounts of one owner (FundedNext, The5ers)
    FORBIDDEN = "forbidden"


@cache
def _clock_change_at(zone_name: str, at: time) -> date | None:
    """A date of 2010-2039 on which ``at`` does not exist or exists twice in the zone, else None
    (zones have moved their clock changes: a replay of old data needs the old years too)."""
    zone = ZoneInfo(zone_name)
    day = date(2010, 1, 1)
    while day.year < 2040:
        local = datetime.combine(day, at, tzinfo=zone)
        if local.utcoffset() != local.replace(fold=1).utcoffset():
            return day
        day += timedelta(days=1)
    return None


def _set_fields(obj: object, state: list[object], what: str) -> None:
    """Restore a frozen slotted dataclass pickled as its values in field order: one saved before later fields
    were added is shorter, and those fields take their defaults."""
    known = fields(obj)  # type: ignore[arg-type]
    if len(state) > len(known):
        raise ValueError(f"{what} saved with {len(state)} fields, this version knows {len(known)}")
    for i, f in enumerate(known):
        object.__setattr__(obj, f.name, state[i] if i < len(state) else f.default)


@dataclass(frozen=True, slots=True)
class SizeLimits:
    """Lots and positions; 0 means no limit.

    scaling: a scaling plan, steps (profit in percent of the initial balance, lots) that raise
        ``max_lots_total`` for a day that began (at the firm's reset: its end-of-day balance) with a profit
        above the step's: Topstep's Express Funded Account, 2 contracts on the 50K, 3 above 1,500 USD of
        profit, 5 above 2,000. The cap never rises during a day, and falls back when a day begins lower.
    max_open_risk_pct: the loss the open positions and the new orders would take at their stops, together, in
        percent of the initial balance (FundedNext's funded accounts: 3, "at any given time").
    """

    max_lots_per_order: Decimal = Decimal(0)
    max_lots_per_instrument: Decimal = Decimal(0)
    max_lots_total: Decimal = Decimal(0)
    max_positions_per_instrument: int = 0
    max_positions_total: int = 0
    scaling: tuple[tuple[Decimal, Decimal], ...] = ()  # a state saved before these two holds the fields above
    max_open_risk_pct: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.max_open_risk_pct > 100:
            raise InvalidValue("size.max_open_risk_pct", str(self.max_open_risk_pct), "must be at most 100")
        if not self.scaling:
            return
        stated = "{" + ", ".join(f"{pct}: {lots}" for pct, lots in self.scaling) + "}"
        if not self.max_lots_total:
            raise InvalidValue("size.scaling", stated, "needs max_lots_total, the cap it starts from")
        below = (Decimal(-1), self.max_lots_total)
        for step in self.scaling:
            if step[0] <= below[0] or step[1] <= below[1]:
                raise InvalidValue("size.scaling", stated,
                                   f"each step must raise the cap ({below[1]} lots) at a higher profit: "
                                   f"{step[0]}% -> {step[1]} lots does not")
            below = step

    def lots_cap(self, day_start_balance: Decimal, initial_balance: Decimal) -> Decimal:
        """The cap on the lots held together for a day that began at ``day_start_balance``: the scaling
        plan's step for its profit, if any (strictly above the step's), else ``max_lots_total``."""
        cap = self.max_lots_total
        for above_pct, lots in self.scaling:
            if (day_start_balance - initial_balance) * 100 > above_pct * initial_balance:
                cap = lots
        return cap

    def __getstate__(self) -> list[object]:
        return [getattr(self, f.name) for f in fields(self)]

    def __setstate__(self, state: list[object]) -> None:
        """One saved before ``scaling`` and ``max_open_risk_pct`` were added is shorter (``_set_fields``)."""
        _set_fields(self, state, "size limits")


@dataclass(frozen=True, slots=True)
class Holding:
    """What may be held, and for how long at least.

    weekend / overnight: may a position stay open over the weekend close / past the daily reset.
    max_break_minutes: a position may not stay open over a market closure longer than this (a holiday,
        an announced break: ``trading.closures``, the desk's ``agents.compliance.market_closures``);
        0: no such rule. FTMO's FTMO Account: 120.
    flat_minutes_before: when it may not, no position opens closer than this to the close, and
        the monitor flattens the account this long before it.
    min_hold_seconds: a trade the desk closes sooner is tick scalping (stops are protective and
        exempt); take-profits nearer than this allows are not sent.
    """

    weekend: bool = True
    overnight: bool = True
    flat_minutes_before: int = 15
    min_hold_seconds: int = 0
    max_break_minutes: int = 0  # last: a state saved before it holds the fields above, in this order

    def __post_init__(self) -> None:
        for name in ("max_break_minutes", "flat_minutes_before", "min_hold_seconds"):
            if getattr(self, name) < 0:
                raise InvalidValue(f"holding.{name}", getattr(self, name), "must not be negative")

    def __getstate__(self) -> list[object]:
        return [getattr(self, f.name) for f in fields(self)]

    def __setstate__(self, state: list[object]) -> None:
        """One saved before a later field was added (max_break_minutes) is shorter (``_set_fields``)."""
        _set_fields(self, state, "holding rules")


@dataclass(frozen=True, slots=True)
class NewsBlackout:
    """No order may open or close within this window around a high-impact event in one of the
    instrument's currencies (events from a calendar file).

    flat_minutes_before: where a stop or take-profit triggered inside the window breaks the rule as an
        order would (FTMO), the account is flattened this many minutes before the window opens while
        it holds a position on a targeted instrument (closing inside the window would itself break
        it), and no order on one may fill from then on; 0: positions are held through the window.
    """

    minutes_before: int = 0
    minutes_after: int = 0
    flat_minutes_before: int = 0

    def __post_init__(self) -> None:
        if self.flat_minutes_before and not self.active:
            raise InvalidValue("news.flat_minutes_before", self.flat_minutes_before,
                               "closes before a news window: set minutes_before or minutes_after with it")

    @property
    def active(self) -> bool:
        return bool(self.minutes_before or self.minutes_after)


@dataclass(frozen=True, slots=True)
class Activity:
    """How long an account may go without a trade before the firm closes it.

    max_idle_days: the account is closed when no trade is entered for this many consecutive calendar
        days (0: no such rule). FundedNext: 30 (its Futures Challenge: 7); Topstep's Express Funded
        Account: "more than 30 days". Read safely: only an entry (an order that filled) restarts
        the clock, not a position held open nor an order left pending, and the days are counted
        as 24 hours each from the entry, not to the end of a calendar day.
    """

    max_idle_days: int = 0

    def __post_init__(self) -> None:
        if self.max_idle_days < 0:
            raise InvalidValue("activity.max_idle_days", self.max_idle_days, "must not be negative")

    @property
    def limit_ns(self) -> int:
        """The idle span after which the account is closed, in nanoseconds (0: no rule)."""
        return self.max_idle_days * 86_400 * NS_PER_S


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
    ``copy_window_seconds``, and holding opposite positions on one instrument across accounts; and
    how much one person may hold at the firm in accounts of this phase.

    max_accounts_per_owner: accounts of phases with this cap one owner may hold at the firm (0: no
        cap; Topstep: five Express Funded Accounts).
    max_capital_per_owner: the initial balances one owner may hold at the firm in accounts of
        phases with this cap, per account currency in the firm's own equivalents (FTMO: 400,000 USD
        or 320,000 EUR...); an account uses ``balance / cap[its currency]`` of the allowance.
    copy_capital_per_owner: with ``copy_trading: same_owner``, the initial balances one owner's
        accounts at the firm in phases with this cap may hold for a trade to be copied between them
        (FundedNext: "provided the total capital allocation across accounts does not exceed our Max
        allocation of 300k"), in the same form; counted over all of them, copying or not.

    A copy is judged by the stricter of the two accounts' rules: a trade copied to or from an
    account whose phase forbids copying is refused on either.
    """

    copy_trading: CopyTrading = CopyTrading.ALLOWED
    hedging_across_accounts: bool = True
    copy_window_seconds: int = 60
    max_accounts_per_owner: int = 0
    max_capital_per_owner: tuple[tuple[str, Decimal], ...] = ()
    copy_capital_per_owner: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        for key in ("max_capital_per_owner", "copy_capital_per_owner"):
            for ccy, amount in getattr(self, key):
                if len(ccy) != 3 or not ccy.isalpha() or not ccy.isupper():
                    raise InvalidValue(f"conduct.{key}", ccy, "keys are currency codes like USD")
                if not amount > 0:
                    raise InvalidValue(f"conduct.{key}.{ccy}", amount, "must be a positive amount")
        if self.copy_capital_per_owner and self.copy_trading is not CopyTrading.SAME_OWNER:
            raise InvalidValue("conduct.copy_capital_per_owner", dict(self.copy_capital_per_owner),
                               "caps copying between one owner's accounts: set copy_trading: same_owner with it")

    def capital_cap(self, currency: str) -> Decimal | None:
        return dict(self.max_capital_per_owner).get(currency)

    def copy_cap(self, currency: str) -> Decimal | None:
        return dict(self.copy_capital_per_owner).get(currency)


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

    daily_loss_pct: the day's loss limit in percent of ``daily_loss_of``; floating P&L counts.
        None: the firm has no daily loss rule (TopstepX since 2024-08-25).
    max_loss_pct: the overall loss limit in percent of the initial balance.
    lock_at_initial: a trailing floor stops rising once it reaches the initial balance. No
        default: every firm states it (it has no effect on a static floor).
    daily_loss_of: the base of ``daily_loss_pct``: the initial balance, or the day's reference.
    daily_reference: what the day's loss is measured from, taken at the reset instant.
    daily_loss_hard: a breach ends the account (False: the day is paused, as a soft limit is).
    breach: does equity exactly on a floor break the rule (``at_or_below``, the safe reading and
        the default) or only below it (``below``)?
    max_loss_kind: how the loss floor moves (see ``MaxLossKind``).
    reset_timezone, reset_time: when the trading day starts (e.g. Europe/Prague 00:00, DST-aware).
    size, holding, news, objectives, conduct, activity: the other rules, each a typed object.
    """

    name: str
    daily_loss_pct: Decimal | None
    max_loss_pct: Decimal
    lock_at_initial: bool
    _: KW_ONLY
    daily_loss_of: PercentOf = PercentOf.INITIAL
    daily_reference: DailyReference = DailyReference.BALANCE
    daily_loss_hard: bool = True
    breach: Breach = Breach.AT_OR_BELOW
    max_loss_kind: MaxLossKind = MaxLossKind.STATIC
    reset_timezone: str = "Europe/Prague"
    reset_time: time = time(0, 0)
    size: SizeLimits = SizeLimits()
    holding: Holding = Holding()
    news: NewsBlackout = NewsBlackout()
    objectives: Objectives = Objectives()
    conduct: Conduct = Conduct()
    source: RuleSource = RuleSource()
    activity: Activity = Activity()

    def __post_init__(self) -> None:
        for name in ("daily_loss_pct", "max_loss_pct"):
            value = getattr(self, name)
            if value is None and name == "daily_loss_pct":
                continue
            if not Decimal(0) < value < Decimal(100):
                raise InvalidValue(f"{self.name}.{name}", value, "must be a percentage between 0 and 100")
        try:
            ZoneInfo(self.reset_timezone)
        except Exception as exc:
            raise InvalidValue(f"{self.name}.reset_timezone", self.reset_timezone, "unknown time zone") from exc
        changed = _clock_change_at(self.reset_timezone, self.reset_time)  # once per zone and time
        if changed is not None:
            raise InvalidValue(f"{self.name}.reset_time", self.reset_time.strftime("%H:%M"),
                               f"is skipped or repeated when {self.reset_timezone} changes its clocks "
                               f"(on {changed}): the day would start twice or not at all")

    def day_reference(self, balance: Decimal, equity: Decimal) -> Decimal:
        """The day's reference from the account as it stands at the reset."""
        return balance if self.daily_reference is DailyReference.BALANCE else max(balance, equity)

    def daily_loss_limit(self, initial_balance: Decimal, reference: Decimal) -> Decimal | None:
        """The day's loss allowance in account currency (None: no daily rule)."""
        if self.daily_loss_pct is None:
            return None
        base = initial_balance if self.daily_loss_of is PercentOf.INITIAL else reference
        return base * self.daily_loss_pct / 100

    def daily_floor(self, initial_balance: Decimal, reference: Decimal) -> Decimal | None:
        """The equity at which the day's rule is broken (see ``breach``), None without one."""
        limit = self.daily_loss_limit(initial_balance, reference)
        return None if limit is None else reference - limit

    def max_loss_limit(self, initial_balance: Decimal) -> Decimal:
        return initial_balance * self.max_loss_pct / 100

    def flat_deadline_ns(self, ts_ns: int, closures: MarketClosures | None = None,
                         symbols: Iterable[str] = ()) -> tuple[int, str]:
        """The next instant by which a holding rule wants positions closed (0 = none), and which.

        With ``closures``, a market closure longer than ``holding.max_break_minutes`` that closes one
        of ``symbols`` (those held, or the desk's) is such a close too: "market closure (its title)"."""
        deadlines = []
        if not self.holding.weekend:
            deadlines.append((next_weekend_close_ns(ts_ns), "weekend holding"))
        if not self.holding.overnight:
            deadlines.append((self.next_reset_ns(ts_ns), "overnight holding"))
        if self.holding.max_break_minutes and closures is not None:
            brk = closures.next_long(ts_ns, symbols, self.holding.max_break_minutes * 60 * NS_PER_S)
            if brk is not None:
                deadlines.append((brk.start_ns, f"market closure ({brk.title})"))
        if not deadlines:
            return 0, ""
        close, why = min(deadlines)
        return close - self.holding.flat_minutes_before * 60 * NS_PER_S, why

    def instants(self, since_ns: int, until_ns: int, closures: MarketClosures | None = None,
                 symbols: Iterable[str] = ()) -> list[int]:
        """Every instant in (since, until] at which the account must be judged on its own: each
        daily reset (the day's reference is taken there, from the state just before it) and each
        deadline by which a holding rule wants it flat (market ``closures`` of ``symbols`` among
        them). Resets on a closed market count too."""
        out, symbols = [], tuple(symbols)
        reset = self.next_reset_ns(since_ns)
        while reset <= until_ns:
            out.append(reset)
            reset = self.next_reset_ns(reset)
        lead = self.holding.flat_minutes_before * 60 * NS_PER_S
        flat_by, _ = self.flat_deadline_ns(since_ns + 1, closures, symbols)
        while flat_by and flat_by <= until_ns:
            if flat_by > since_ns:  # a deadline inside its lead time was passed before since
                out.append(flat_by)
            flat_by, _ = self.flat_deadline_ns(flat_by + lead + 1, closures, symbols)  # the close after
        return out

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
