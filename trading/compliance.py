"""Compliance math: may this order exist under the account's firm rules, in the worst case?

The worst case is the equity left if every open stop and the new order's stop are hit, each
with the slippage allowance, after commissions. An order is allowed only if that equity keeps
the day's loss and the overall loss inside their limits less a safety buffer, and only if every
other rule of the firm allows it: time limit, weekend and overnight holding, news blackout, and
size limits per order, per instrument and in total. The monitor (``observe``) rolls the firm day,
follows the loss floor and the inactivity clock, records breaches and asks for a flatten before a
holding rule bites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from trading.closures import MarketClosures
from trading.fx import ConversionRates
from trading.instruments import Instrument
from trading.ledger import AccountSnapshot, ClosedTrade, PositionView, pnl_in_account_ccy
from trading.market import NS_PER_S
from trading.money import book
from trading.news import NewsCalendar
from trading.orders import CloseReason, Order
from trading.passodds import ChallengeState, trading_days_left
from trading.pickling import compact
from trading.rules import FirmRules, MaxLossKind


@compact
@dataclass(frozen=True, slots=True)
class Headroom:
    """How far an account is from its limits, in account currency (positive = inside).

    The daily fields are None for a firm without a daily loss rule. A floor is the equity at which
    its rule breaks (on it or below it, as the firm words it: ``FirmRules.breach``).
    """

    account_id: str
    ts_ns: int
    daily_loss_limit: Decimal | None
    daily_floor: Decimal | None
    daily_headroom: Decimal | None
    max_loss_floor: Decimal
    max_loss_headroom: Decimal
    worst_case_daily_headroom: Decimal | None
    worst_case_max_loss_headroom: Decimal
    flatten_reason: str = ""  # a holding rule, or a floor risen past the open stops, wants it flat now
    # the pass-odds monitor's last answer (None: not run for this account, or no history to draw from)
    pass_probability: float | None = None
    hard_breach_probability: float | None = None
    pass_risk_pct: float | None = None  # the risk per trade (percent) that passes most often
    idle_deadline_ns: int = 0  # the firm closes the account if no trade is entered by then (0: no such rule)
    # what the firm's size rules leave for new orders (None: no such rule): lots under the day's cap on the lots held
    # together (a scaling plan's step), and the loss at their stops under its cap on the open risk
    lots_room: Decimal | None = None
    risk_room: Decimal | None = None

    @property
    def daily_fraction(self) -> float:
        """Remaining share of the daily limit, 1.0 = untouched (or no daily rule), 0 = at the limit."""
        if not self.daily_loss_limit or self.daily_headroom is None:
            return 1.0
        return float(self.daily_headroom / self.daily_loss_limit)

    @property
    def nearest_headroom(self) -> Decimal:
        """The loss the account can take now before the first rule it would reach breaks."""
        if self.daily_headroom is None:
            return self.max_loss_headroom
        return min(self.daily_headroom, self.max_loss_headroom)


@compact
@dataclass(frozen=True, slots=True)
class ComplianceDecision:
    """Allow or veto, with the rule that decided and the headroom left after the order (the daily
    one None without a daily rule)."""

    allowed: bool
    rule: str
    reason: str
    worst_case_daily_headroom: Decimal | None
    worst_case_max_loss_headroom: Decimal


KEPT_REFERENCES = 10


@dataclass
class RuleState:
    """What an account's rules remember: the day's reference, the equity peak, breaches seen.

    references: the last ``KEPT_REFERENCES`` firm days' references and the instant of the snapshot
    each was taken from (the reset itself, as the desk cuts at every reset; the first snapshot on the
    account's first day). Kept short: the state is saved after every call.
    """

    trading_day: date | None = None
    day_reference: Decimal = Decimal(0)
    references: dict[date, tuple[int, Decimal]] = field(default_factory=dict)
    day_start_balance: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)
    eod_peak_balance: Decimal = Decimal(0)   # the highest end-of-day (or day-high) balance so far
    day_high_balance: Decimal = Decimal(0)   # the highest balance of the day in force
    first_ns: int = 0
    min_daily_headroom: Decimal | None = None
    min_max_loss_headroom: Decimal | None = None
    breaches: list[str] = field(default_factory=list)       # hard: the account would be over
    soft_breaches: list[str] = field(default_factory=list)  # the day would be paused
    violations: list[str] = field(default_factory=list)     # conduct: minimum hold
    trading_days: set[date] = field(default_factory=set)
    day_pnl: dict[date, Decimal] = field(default_factory=dict)
    last_entry_ns: int = 0  # the latest trade entered (or the account's start): the inactivity clock
    idle_breached: bool = False  # the stretch since last_entry_ns ran out, and its breach is recorded
    entered: bool = False  # the desk has seen a trade entered (else last_entry_ns is the account's start)
    # legs allowed and not yet settled, counted as held by the size rules until they fill, are refused or expire:
    # client order id -> (symbol, lots, loss at its stop, expires_ns, lots filled so far)
    working: dict[str, tuple[str, Decimal, Decimal, int, Decimal]] = field(default_factory=dict)

    def __setstate__(self, state: dict[str, object]) -> None:
        state.setdefault("working", {})  # saved before legs were kept
        self.__dict__.update(state)


@dataclass(frozen=True, slots=True)
class CostAllowance:
    """What the worst case adds to every stop: slippage in pips and commission per lot per side."""

    slippage_pips: Decimal = Decimal(1)
    commission_per_lot: Decimal = Decimal(0)
    safety_buffer_pct: Decimal = Decimal(10)


def news_flat_instants(rules: FirmRules, news: NewsCalendar, since_ns: int, until_ns: int,
                       currencies: Iterable[str]) -> list[int]:
    """The instants in (since, until] at which an account under ``rules`` starts to close for a news
    window (``NewsBlackout.flat_minutes_before``) of an event in ``currencies``: the desk cuts its
    batches there, so the account closes on time."""
    blackout = rules.news
    if not (blackout.active and blackout.flat_minutes_before):
        return []
    shift = (blackout.minutes_before + blackout.flat_minutes_before) * 60 * NS_PER_S
    wanted = set(currencies)
    out, at = [], since_ns
    while (event := news.first_between(wanted, at + shift, until_ns + shift)) is not None:
        out.append(event.ts_ns - shift)
        at = event.ts_ns - shift
    return out


class AccountRules:
    """The firm rules of one account, with their state, evaluated on snapshots."""

    def __init__(self, rules: FirmRules, costs: CostAllowance, instruments: Mapping[str, Instrument],
                 news: NewsCalendar | None = None, consistency_guard: bool = True,
                 closures: MarketClosures | None = None, idle_since_ns: int = 0) -> None:
        self.rules = rules
        self.idle_since_ns = idle_since_ns  # the account's last trade before the desk took it (0: unknown)
        self.costs = costs
        self.consistency_guard = consistency_guard
        self.instruments = instruments
        self.news = news or NewsCalendar()
        self.closures = closures or MarketClosures()
        self.state = RuleState()

    def __setstate__(self, state: dict[str, object]) -> None:  # saved before market closures were read
        self.__dict__.update({"closures": MarketClosures(), "idle_since_ns": 0, **state})

    def floor(self, initial_balance: Decimal) -> Decimal:
        """The equity at which the maximum-loss rule breaks (on it or below it: ``FirmRules.breach``)."""
        limit = self.rules.max_loss_limit(initial_balance)
        kind = self.rules.max_loss_kind
        if kind is MaxLossKind.STATIC:
            return initial_balance - limit
        peak = self.state.peak_equity if kind is MaxLossKind.TRAILING else self.state.eod_peak_balance
        floor = max(peak, initial_balance) - limit
        return min(floor, initial_balance) if self.rules.lock_at_initial else floor

    def daily_floor(self, initial_balance: Decimal) -> Decimal | None:
        """The equity at which today's loss rule breaks (None: the firm has no daily rule)."""
        return self.rules.daily_floor(initial_balance, self.state.day_reference)

    def _buffer(self, limit: Decimal) -> Decimal:
        return limit * self.costs.safety_buffer_pct / 100

    def _next_reset_line(self, snap: AccountSnapshot) -> tuple[Decimal, Decimal] | None:
        """The daily floor at the next reset, as a line for the worst case (the balance with every open
        stop hit), and that day's limit (None: no daily rule).

        At the reset the day's reference becomes the balance then (with the open positions at a loss,
        the higher of balance and equity is the balance too), so a position still open then at its stop
        stands one day's limit from the new floor, whatever today's closed profit was. FTMO: "a position
        that was within the limit before midnight may exceed the limit after the reset if the floating
        loss is too large". The open loss at the stops must stay within one day's limit: the line is
        ``balance - limit``. A position stopped before the reset lowers the balance the reset finds by
        its loss and the limit by at most that loss times the day's share, so every position still
        open is the worst case; the limit is the one of today's balance. None too where a holding rule
        has every position closed before the reset (no overnight holding; Friday, before the weekend
        close where the firm holds nothing over the weekend): none is open at it."""
        flat_by, _ = self._flat_deadline(snap.ts_ns, [p.symbol for p in snap.positions])
        if flat_by and flat_by <= self.rules.next_reset_ns(snap.ts_ns):
            return None
        limit = self.rules.daily_loss_limit(snap.initial_balance, snap.balance)
        return None if limit is None else (snap.balance - limit, limit)

    def _roll(self, snap: AccountSnapshot) -> None:
        """Take the day's reference at the first snapshot of a firm day (the desk cuts at every
        reset, so that is the reset instant, from the state just before it); follow the equity peak
        and, at each reset, the end-of-day balance peak."""
        st = self.state
        if not st.first_ns:
            st.first_ns = snap.ts_ns
            st.eod_peak_balance = snap.initial_balance
            # the inactivity clock runs from the account's last trade before the desk, if the operator
            # gave it and it lies before the first snapshot; else from the first snapshot
            st.last_entry_ns = self.idle_since_ns if 0 < self.idle_since_ns <= snap.ts_ns else snap.ts_ns
        # the highest balance since the last snapshot (a take-profit, then a stop), and equity
        balance_high = snap.balance if snap.max_balance is None else max(snap.balance, snap.max_balance)
        st.peak_equity = max(st.peak_equity, snap.equity, snap.max_equity or snap.equity)
        day = self.rules.trading_day(snap.ts_ns)
        if st.trading_day != day:
            if st.trading_day is not None:  # this snapshot is the state just before the reset
                st.day_pnl[st.trading_day] = snap.balance - st.day_start_balance
                day_high = max(st.day_high_balance, balance_high)
                eod = day_high if self.rules.max_loss_kind is MaxLossKind.TRAILING_DAY_HIGH else snap.balance
                st.eod_peak_balance = max(st.eod_peak_balance, eod)
            st.day_high_balance = balance_high = snap.balance
            st.trading_day = day
            st.day_start_balance = snap.balance
            st.day_reference = self.rules.day_reference(snap.balance, snap.equity)
            st.references[day] = (snap.ts_ns, st.day_reference)
            for old in sorted(st.references)[:-KEPT_REFERENCES]:
                del st.references[old]
        st.day_high_balance = max(st.day_high_balance, balance_high)
        for pos in snap.positions:
            st.trading_days.add(self.rules.trading_day(pos.opened_ns))

    def _headroom(self, snap: AccountSnapshot, rates: ConversionRates) -> Headroom:
        self._roll(snap)
        initial = snap.initial_balance
        limit = self.rules.daily_loss_limit(initial, self.state.day_reference)
        daily_floor, floor = self.daily_floor(initial), self.floor(initial)
        worst = snap.balance + self._pnl_if_stops_hit(snap, rates)
        flat_by, why = self._flat_deadline(snap.ts_ns, [p.symbol for p in snap.positions])
        flatten = f"{why}: flat {self.rules.holding.flat_minutes_before} min before the close" \
            if flat_by and snap.positions and snap.ts_ns >= flat_by else ""
        flatten = flatten or self._news_flatten(snap)
        if snap.positions and not flatten:
            # A floor that rose past the open stops (a reset that took floating profit into the
            # day's reference, a trailing floor): a stop hit now would break a hard rule, so the
            # account closes while its equity is still above the floor.
            lines = [("max_loss", floor, "")] + ([("daily_loss", daily_floor, "")] if self.rules.daily_loss_hard else [])
            nxt = self._next_reset_line(snap) if self.rules.daily_loss_hard else None
            if nxt is not None:  # a loss at the stops over a day's limit would break the next day's floor at its reset
                lines.append(("daily_loss", nxt[0], " at the next reset"))
            broken = self._broken((rule, at, worst) for rule, at, _ in lines)
            if broken:
                rule, at, _ = broken[0]
                when = next(w for r, a, w in lines if r == rule and a == at)
                flatten = (f"{rule}: the open stops would leave {book(worst - at)} against the floor{when} "
                           f"{book(at)}")
        return Headroom(
            snap.account_id, snap.ts_ns, limit, daily_floor,
            None if daily_floor is None else book(snap.equity - daily_floor), floor, book(snap.equity - floor),
            None if daily_floor is None else book(worst - daily_floor), book(worst - floor), flatten,
            idle_deadline_ns=self.idle_deadline_ns(), lots_room=self.lots_room(snap), risk_room=self.risk_room(snap, rates),
        )

    def lots_room(self, snap: AccountSnapshot) -> Decimal | None:
        """The lots new orders may add under the day's cap on the lots held together (None: no cap)."""
        cap = self.rules.size.lots_cap(self.state.day_start_balance or snap.balance, snap.initial_balance)
        waiting = sum((w[1] for w in self.working(snap)), Decimal(0))
        return max(cap - snap.open_lots() - waiting, Decimal(0)) if cap else None

    def risk_room(self, snap: AccountSnapshot, rates: ConversionRates) -> Decimal | None:
        """The loss new orders may add at their stops under ``size.max_open_risk_pct`` (None: no such rule)."""
        pct = self.rules.size.max_open_risk_pct
        if not pct:
            return None
        waiting = sum((w[2] for w in self.working(snap)), Decimal(0))
        return book(max(snap.initial_balance * pct / 100 - self._held_risk(snap, rates) - waiting, Decimal(0)))

    def _held_risk(self, snap: AccountSnapshot, rates: ConversionRates) -> Decimal:
        """Each open position's loss from its entry to its stop with slippage (or its floating loss, if worse;
        none for a stop past the entry), added up: one being closed too, as it is open until its close fills."""
        return sum((max(Decimal(0), -self._at_worst(pos, snap.currency, rates)) for pos in snap.positions), Decimal(0))

    def idle_deadline_ns(self) -> int:
        """The instant by which the account must enter a trade under its firm's inactivity rule (0: no such
        rule, or the account has not started)."""
        limit, last = self.rules.activity.limit_ns, self.state.last_entry_ns
        return last + limit if limit and last else 0

    def _flat_deadline(self, ts_ns: int, symbols: Iterable[str]) -> tuple[int, str]:
        """The next instant by which a holding rule wants positions on ``symbols`` closed (0 = none), and
        which: the weekend, the reset, or a market closure of one of them (``FirmRules.flat_deadline_ns``).
        Inside a long closure of one of them (ticks a closed market should not have: generated data, a
        feed that ignores the holiday) it is the closure's start: nothing opens, and what is held closes."""
        limit = self.rules.holding.max_break_minutes * 60 * NS_PER_S
        brk = self.closures.during(ts_ns, symbols, limit) if limit and self.closures else None
        if brk is not None:
            return brk.start_ns, f"market closure ({brk.title})"
        return self.rules.flat_deadline_ns(ts_ns, self.closures, symbols)

    def _news_flatten(self, snap: AccountSnapshot) -> str:
        """Why the account must close now for a news window (``NewsBlackout.flat_minutes_before``), or ''.

        From ``flat_minutes_before`` before a window opens until it opens, an account holding a position
        on an instrument of the event's currency closes: a stop or take-profit triggered inside the
        window would break the rule, and closing inside it would too."""
        news = self.rules.news
        if not (news.active and news.flat_minutes_before and snap.positions):
            return ""
        opens = news.minutes_before * 60 * NS_PER_S
        lead = news.flat_minutes_before * 60 * NS_PER_S
        currencies = {c for p in snap.positions for c in (self.instruments[p.symbol].base, self.instruments[p.symbol].quote)}
        event = self.news.first_between(currencies, snap.ts_ns + opens, snap.ts_ns + opens + lead)
        if event is None:
            return ""
        if self.news.conflict(currencies, snap.ts_ns, snap.ts_ns, opens, news.minutes_after * 60 * NS_PER_S):
            return ""  # inside another event's window already: closing now would break the rule
        return (f"news_blackout: {event.title} ({event.currency}) at {event.ts_ns}: flat {news.flat_minutes_before} min "
                f"before its window (a stop or take-profit triggered inside it breaks the rule)")

    def _trailing_low(self, snap: AccountSnapshot) -> Decimal | None:
        """For a floor that trails the equity, the lowest headroom against the floor as it rose
        within the batch (a high, then a fall): at a moment t the floor follows the batch's running
        high R, so the headroom is ``equity - max(R, initial) + limit`` (no lower than
        ``equity - initial`` once the floor locks there). Bounded from below by the batch's lowest
        equity and deepest fall; None for the other kinds, whose floors move only at resets."""
        if self.rules.max_loss_kind is not MaxLossKind.TRAILING or snap.deepest_drop is None or snap.min_equity is None:
            return None
        initial, limit = snap.initial_balance, self.rules.max_loss_limit(snap.initial_balance)
        low = min(snap.deepest_drop, snap.min_equity - initial) + limit
        return max(low, snap.min_equity - initial) if self.rules.lock_at_initial else low

    def _broken(self, judged: Iterable[tuple[str, Decimal | None, Decimal]]) -> list[tuple[str, Decimal, Decimal]]:
        """The rules broken among (rule, floor, equity) triples, the highest floor first: the one a
        falling equity reaches first is the one the firm names."""
        broken = [(rule, floor, equity) for rule, floor, equity in judged
                  if floor is not None and self.rules.breach.broken(equity - floor)]
        return sorted(broken, key=lambda b: -b[1])

    def observe(self, snap: AccountSnapshot, rates: ConversionRates,
                trades: Iterable[ClosedTrade] = ()) -> Headroom:
        """Post-trade monitor: roll the day at the reset, measure the headroom, record the
        minimum reached and any breach; ``trades`` closed since the last call count trading days
        and minimum-hold violations."""
        st = self.state
        initial = snap.initial_balance
        # The lowest equity on any quote since the last snapshot belongs to the day in force before
        # this snapshot (batches are cut at resets): judge it against that day's floors.
        before_daily, before_floor, started = self.daily_floor(initial), self.floor(initial), st.trading_day is not None
        trades = list(trades)
        self._activity(snap, trades)
        st.working = {k: w for k, w in st.working.items() if w[3] >= snap.ts_ns}  # expired: nothing more fills
        head = self._headroom(snap, rates)
        judged = [("daily_loss", head.daily_floor, snap.equity), ("max_loss", head.max_loss_floor, snap.equity)]
        if snap.min_equity is not None and started:
            judged += [("daily_loss", before_daily, snap.min_equity), ("max_loss", before_floor, snap.min_equity)]
            trailing = self._trailing_low(snap)
            if trailing is not None:
                judged.append(("max_loss", snap.min_equity - trailing, snap.min_equity))
        lowest: dict[str, Decimal] = {}
        for rule, floor, equity in judged:
            if floor is not None:
                lowest[rule] = min(lowest.get(rule, equity - floor), equity - floor)
        named: set[str] = set()
        for rule, floor, equity in self._broken(judged):
            if rule in named:
                continue
            named.add(rule)
            entry = f"{rule} at {snap.ts_ns}: headroom {book(lowest[rule])} (equity {equity}, floor {book(floor)})"
            soft = rule == "daily_loss" and not self.rules.daily_loss_hard
            (st.soft_breaches if soft else st.breaches).append(entry)
        daily = lowest.get("daily_loss")
        if daily is not None and (st.min_daily_headroom is None or daily < st.min_daily_headroom):
            st.min_daily_headroom = book(daily)
        max_loss = lowest["max_loss"]
        if st.min_max_loss_headroom is None or max_loss < st.min_max_loss_headroom:
            st.min_max_loss_headroom = book(max_loss)
        min_hold = self.rules.holding.min_hold_seconds * NS_PER_S
        for t in trades:
            st.trading_days.add(self.rules.trading_day(t.opened_ns))
            if min_hold and t.reason is CloseReason.TAKE_PROFIT and t.closed_ns - t.opened_ns < min_hold:
                st.violations.append(f"min_hold: {t.position_id} closed after "
                                     f"{(t.closed_ns - t.opened_ns) / NS_PER_S:.0f} s")
        return head

    def _activity(self, snap: AccountSnapshot, trades: Sequence[ClosedTrade]) -> None:
        """The inactivity rule (``FirmRules.activity``): every stretch without a trade entered, between
        the entries since the last snapshot (positions still open and trades closed since) and up to
        this snapshot, longer than the firm allows is a breach, stamped at the instant it ran out."""
        st = self.state
        if not st.first_ns:
            self._roll(snap)  # the account's first snapshot starts the clock
        limit = self.rules.activity.limit_ns
        entries = sorted({p.opened_ns for p in snap.positions} | {t.opened_ns for t in trades}
                         | ({self.idle_since_ns} if 0 < self.idle_since_ns <= snap.ts_ns else set()))
        for at, entry in [(e, True) for e in entries if e > st.last_entry_ns] + [(snap.ts_ns, False)]:
            if limit and at - st.last_entry_ns > limit and not st.idle_breached:  # one breach per stretch
                days = self.rules.activity.max_idle_days
                st.breaches.append(f"inactivity at {st.last_entry_ns + limit}: no trade entered for {days} "
                                   f"day{'s' if days != 1 else ''} (the last at {st.last_entry_ns})")
                st.idle_breached = True
            if entry:  # a new stretch starts
                st.last_entry_ns, st.idle_breached, st.entered = at, False, True

    def restart_clock(self, idle_since_ns: int) -> None:
        """The account's last trade outside the desk, as the settings give it now (a resumed run). One
        before the desk's first snapshot moves the clock back while the desk has seen no trade entered (a
        new stretch: a breach recorded on the old clock stays, and this one's is judged anew); a later one is
        a trade entered then (by hand, on the firm's platform), taken as such once the desk's clock reaches it."""
        self.idle_since_ns = idle_since_ns
        st = self.state
        if st.first_ns and not st.entered and 0 < idle_since_ns <= st.first_ns:
            st.last_entry_ns, st.idle_breached = idle_since_ns, False

    def _days(self, snap: AccountSnapshot) -> dict[date, Decimal]:
        """Each firm day's closed P&L, today's so far included."""
        days = dict(self.state.day_pnl)
        if self.state.trading_day is not None:
            days[self.state.trading_day] = snap.balance - self.state.day_start_balance
        return days

    def challenge_state(self, snap: AccountSnapshot, horizon_days: int) -> ChallengeState:
        """Where the account stands, for the pass-odds Monte Carlo (fractions of the initial
        balance); the day in progress counts as a day done."""
        st, initial = self.state, snap.initial_balance
        obj = self.rules.objectives
        days = self._days(snap)
        profitable = sum(1 for v in days.values() if v > 0 and v >= initial * obj.min_profitable_day_pct / 100)
        eod_peak = max(st.eod_peak_balance, initial)
        if st.trading_day is not None:  # the day in progress, as done, raises an end-of-day floor
            if self.rules.max_loss_kind is MaxLossKind.TRAILING_EOD:
                eod_peak = max(eod_peak, snap.balance)
            elif self.rules.max_loss_kind is MaxLossKind.TRAILING_DAY_HIGH:
                eod_peak = max(eod_peak, st.day_high_balance, snap.balance)
        return ChallengeState(
            profit=float((snap.balance - initial) / initial),
            peak_equity=float(max(st.peak_equity, initial) / initial),
            eod_peak=float(eod_peak / initial),
            trading_days=len(st.trading_days), profitable_days=profitable,
            best_day=float(max(days.values(), default=Decimal(0)) / initial),
            days_left=trading_days_left(self.rules, st.first_ns or snap.ts_ns, snap.ts_ns, horizon_days),
            idle_days=(snap.ts_ns - st.last_entry_ns) / (86_400 * NS_PER_S) if st.last_entry_ns else 0.0,
            weekday=self.rules.trading_day(snap.ts_ns).weekday(),
        )

    def objectives(self, snap: AccountSnapshot) -> dict[str, object]:
        """Progress on the phase's objectives (never a reason to take more risk)."""
        obj = self.rules.objectives
        st = self.state
        profit = snap.balance - snap.initial_balance
        days = self._days(snap)
        best = max(days.values(), default=Decimal(0))
        share = float(best / profit * 100) if profit > 0 else 0.0
        profitable = sum(1 for v in days.values()
                         if v > 0 and v >= snap.initial_balance * obj.min_profitable_day_pct / 100)
        return {
            "profit_pct": float(profit / snap.initial_balance * 100),
            "profit_target_pct": float(obj.profit_target_pct),
            # reached with every position closed: an open trade can still give the profit back
            "target_reached": bool(obj.profit_target_pct) and not snap.positions
            and profit >= snap.initial_balance * obj.profit_target_pct / 100,
            "trading_days": len(st.trading_days), "min_trading_days": obj.min_trading_days,
            "profitable_days": profitable, "min_profitable_days": obj.min_profitable_days,
            "best_day_share_pct": round(share, 1), "consistency_pct": float(obj.consistency_pct),
            # no profit, no best day to be a share of: the rule is met only by a profit that spreads
            "consistency_ok": not obj.consistency_pct or (profit > 0 and share <= float(obj.consistency_pct)),
            "plan": self._plan(snap, profit, best, profitable),
        }

    def _plan(self, snap: AccountSnapshot, profit: Decimal, best: Decimal, profitable: int) -> list[str]:
        """What is left of the phase's objectives, each as a step (empty: nothing is left)."""
        obj, st = self.rules.objectives, self.state
        initial = snap.initial_balance
        steps = []
        if obj.profit_target_pct:
            target = initial * obj.profit_target_pct / 100
            total = max(target, best * 100 / obj.consistency_pct) if obj.consistency_pct and best > 0 else target
            if profit < total:
                why = "" if total == target else f" (the best day, {book(best)}, may be at most " \
                                                  f"{obj.consistency_pct}% of it)"
                steps.append(f"make {book(total - profit)} more, to a total profit of {book(total)}{why}")
            if snap.positions and profit >= total:
                steps.append("close the open positions: the target counts only when flat")
        if len(st.trading_days) < obj.min_trading_days:
            steps.append(f"trade on {obj.min_trading_days - len(st.trading_days)} more day(s) "
                         f"({len(st.trading_days)} of {obj.min_trading_days})")
        if profitable < obj.min_profitable_days:
            floor = initial * obj.min_profitable_day_pct / 100
            steps.append(f"{obj.min_profitable_days - profitable} more profitable day(s) "
                         f"({profitable} of {obj.min_profitable_days})"
                         + (f", each closing at least {book(floor)} up" if floor else ""))
        if obj.time_limit_days and st.first_ns:
            left = obj.time_limit_days - (snap.ts_ns - st.first_ns) // (86_400 * NS_PER_S)
            if steps:
                steps.append(f"within {max(left, 0)} calendar day(s) left of {obj.time_limit_days}")
        return steps

    def _slipped_stop(self, symbol: str, stop: Decimal, side: int) -> Decimal:
        inst = self.instruments[symbol]
        return stop - side * self.costs.slippage_pips * inst.pip_size

    def _pnl_if_stops_hit(self, snap: AccountSnapshot, rates: ConversionRates) -> Decimal:
        """Every open position stopped out with slippage (or at its current loss, if worse), less the
        closing commission."""
        return sum((self._at_worst(pos, snap.currency, rates) - self.costs.commission_per_lot * pos.lots
                    for pos in snap.positions), Decimal(0))

    def _at_worst(self, pos: PositionView, currency: str, rates: ConversionRates) -> Decimal:
        """A position's P&L stopped out with slippage, or at its current loss if worse: one that gapped past its
        stop and has not filled yet is already losing more."""
        stop = self._slipped_stop(pos.symbol, pos.stop_loss, int(pos.side))
        at_stop = pnl_in_account_ccy(self.instruments[pos.symbol], pos.side, pos.lots, pos.entry, stop, currency, rates)
        return min(at_stop, pos.floating_pnl)

    def _timing(self, orders: Sequence[Order], snap: AccountSnapshot) -> tuple[str, str] | None:
        """Time limit, holding and news rules: (rule, reason) of the first one an order breaks."""
        rules = self.rules
        obj = rules.objectives
        if obj.time_limit_days and self.state.first_ns and \
                snap.ts_ns - self.state.first_ns > obj.time_limit_days * 86_400 * NS_PER_S:
            return "time_limit", f"the phase's {obj.time_limit_days} days are over"
        deadlines = {s: self._flat_deadline(snap.ts_ns, (s,)) for s in {o.symbol for o in orders}}  # a ladder's legs share one
        for order in orders:
            flat_by, why = deadlines[order.symbol]
            if flat_by and order.expires_ns >= flat_by:
                rule, _, title = why.partition(" (")
                return rule.replace(" ", "_"), (f"the order may fill until {order.expires_ns}, inside the "
                                                f"{rules.holding.flat_minutes_before} min before the close"
                                                + (f" ({title}" if title else ""))
            if rules.news.active:
                gap = self.news.covers(order.not_before_ns, order.expires_ns)
                if gap:  # the firm's news rule cannot be checked: an alert, not a silent pass
                    return "news_calendar", gap
                inst = self.instruments[order.symbol]
                before = rules.news.minutes_before + rules.news.flat_minutes_before  # the flat lead too
                event = self.news.conflict((inst.base, inst.quote), order.not_before_ns, order.expires_ns,
                                           before * 60 * NS_PER_S, rules.news.minutes_after * 60 * NS_PER_S)
                if event is not None:
                    return "news_blackout", (f"{event.title} ({event.currency}) at {event.ts_ns}: no orders "
                                             f"{before} min before to {rules.news.minutes_after} min after")
        return None

    def _size(self, orders: Sequence[Order], snap: AccountSnapshot) -> tuple[str, str] | None:
        size = self.rules.size
        for order in orders:
            if size.max_lots_per_order and order.lots > size.max_lots_per_order:
                return "max_lots_per_order", f"{order.lots} lots above {size.max_lots_per_order}"
        new_lots = sum((o.lots for o in orders), Decimal(0))
        work = self.working(snap)
        waiting = sum((w[1] for w in work), Decimal(0))
        held = f"{snap.open_lots()} open" + (f" + {waiting} allowed, not yet filled" if work else "")
        start = self.state.day_start_balance or snap.balance  # the day's balance at the reset: the plan's step
        cap = size.lots_cap(start, snap.initial_balance)
        if cap and snap.open_lots() + waiting + new_lots > cap:
            if not size.scaling:
                return "max_lots_total", f"{held} + {new_lots} new lots > {cap}"
            higher = next(((pct, lots) for pct, lots in size.scaling if lots > cap), None)
            return "scaling_plan", (f"{held} + {new_lots} new lots > {cap}, the cap for a day begun at "
                                    f"{book(start)}" + (f" ({higher[1]} lots once a day begins more than {higher[0]}% "
                                                        "above the initial balance)" if higher else ""))
        coming = [w for w in work if not w[3]]  # legs that would open a position (the rest of one adds to its own)
        if size.max_positions_total and len(snap.staying()) + len(coming) + len(orders) > size.max_positions_total:
            return "max_positions_total", (f"{len(snap.staying())} open" + (f" + {len(coming)} allowed, not yet filled"
                                                                            if coming else "")
                                           + f" + {len(orders)} new > {size.max_positions_total}")
        for symbol in {o.symbol for o in orders}:
            legs = [o for o in orders if o.symbol == symbol]
            lots = sum((o.lots for o in legs), Decimal(0))
            mine = [w for w in work if w[0] == symbol]
            open_here = snap.open_lots(symbol) + sum((w[1] for w in mine), Decimal(0))
            if size.max_lots_per_instrument and open_here + lots > size.max_lots_per_instrument:
                return "max_lots_per_instrument", (f"{symbol}: {open_here} open or allowed + {lots} new lots > "
                                                   f"{size.max_lots_per_instrument}")
            count = sum(1 for p in snap.staying() if p.symbol == symbol) + sum(1 for w in mine if not w[3]) + len(legs)
            if size.max_positions_per_instrument and count > size.max_positions_per_instrument:
                return "max_positions_per_instrument", f"{symbol}: {count} positions > {size.max_positions_per_instrument}"
        return None

    def _open_risk(self, orders: Sequence[Order], snap: AccountSnapshot, rates: ConversionRates) -> tuple[str, str] | None:
        """``size.max_open_risk_pct``: FundedNext's "risk ... the maximum potential loss ... based on stop-loss
        placement and the maximum losses of the trade(s), calculated against the initial account balance", read
        the safe way: the open positions' (``_held_risk``) and each new order's from its entry with slippage to its
        stop with slippage, added up."""
        pct = self.rules.size.max_open_risk_pct
        if not pct:
            return None
        held, waiting = self._held_risk(snap, rates), sum((w[2] for w in self.working(snap)), Decimal(0))
        new = sum((self._order_risk(order, snap.currency, rates) for order in orders), Decimal(0))
        cap = snap.initial_balance * pct / 100
        if held + waiting + new > cap:
            return "max_open_risk", (f"{book(held)} at risk in open positions + "
                                     + (f"{book(waiting)} in orders allowed, not yet filled + " if waiting else "")
                                     + f"{book(new)} in new orders > {book(cap)} ({pct}% of the initial balance)")
        return None

    def _order_risk(self, order: Order, currency: str, rates: ConversionRates) -> Decimal:
        """An order's loss from its entry with slippage to its stop with slippage."""
        inst = self.instruments[order.symbol]
        entry = order.reference_price + int(order.side) * order.max_slippage_points * inst.point
        stop = self._slipped_stop(order.symbol, order.stop_loss, int(order.side))
        return max(Decimal(0), -pnl_in_account_ccy(inst, order.side, order.lots, entry, stop, currency, rates))

    def placed(self, orders: Sequence[Order], snap: AccountSnapshot, rates: ConversionRates) -> None:
        """Legs allowed and on their way to the venue: the size rules count them as held until they settle."""
        for order in orders:
            self.state.working[order.client_order_id] = (order.symbol, order.lots,
                                                         self._order_risk(order, snap.currency, rates), order.expires_ns,
                                                         Decimal(0))

    def filled(self, client_order_id: str, lots: Decimal) -> None:
        """Part of a leg filled (an opening fill the venue reported): the position holds it, the rest still waits.
        Counted from the fills, not the positions: a part that closed again leaves the rest working at the venue."""
        leg = self.state.working.get(client_order_id)
        if leg is not None:
            self.state.working[client_order_id] = (*leg[:4], leg[4] + lots)

    def settled(self, client_order_id: str) -> None:
        """A leg the venue filled in full, refused, cancelled or let expire: no longer waiting."""
        self.state.working.pop(client_order_id, None)

    def working(self, snap: AccountSnapshot) -> list[tuple[str, Decimal, Decimal, bool]]:
        """The legs allowed and not yet filled as ``snap`` stands, each (symbol, lots left, loss at its stop left,
        whether a position under its id is open, its rest adding to it): not expired, less what has filled."""
        if not self.state.working:
            return []
        open_ids = {p.position_id for p in snap.positions}
        out = []
        for coid, (symbol, lots, risk, expires, filled) in self.state.working.items():
            left = lots - filled
            if expires >= snap.ts_ns and left > 0:
                out.append((symbol, left, risk * left / lots, coid in open_ids))
        return out

    def day_profit_cap(self, snap: AccountSnapshot) -> Decimal | None:
        """The desk's cap on a firm day's profit where the phase's best-day rule is a condition of
        passing (``consistency_pct`` with a profit target), None elsewhere or with the guard off.

        ``c * max(target, profit before the day)``: a day at most ``c`` of the target is at most
        ``c`` of any total that reaches it, so the rule cannot hold back the pass; once the profit
        before the day is past the target, ``c`` of it still is at most ``c`` of the total."""
        obj = self.rules.objectives
        if not (self.consistency_guard and obj.consistency_pct and obj.profit_target_pct):
            return None
        initial = snap.initial_balance
        before = (self.state.day_start_balance or snap.balance) - initial
        return obj.consistency_pct / 100 * max(initial * obj.profit_target_pct / 100, before)

    def _best_day(self, orders: Sequence[Order], snap: AccountSnapshot,
                  rates: ConversionRates) -> tuple[str, str] | None:
        """The best-day guard: no order once the day's profit (closed and floating) has reached its
        cap, nor one whose take-profit, with the open positions' take-profits, would carry the day's
        closed profit past it, nor one without a take-profit (nothing would bound its profit: the
        pass odds take a day's profit to stop at the cap)."""
        cap = self.day_profit_cap(snap)
        if cap is None:
            return None
        bare = [o.client_order_id for o in orders if o.take_profit is None]
        if bare:
            return "consistency", (f"{', '.join(bare)} has no take-profit: where the best-day rule is a condition, "
                                   f"an order's profit must be bounded by the day's cap {book(cap)}")
        start = self.state.day_start_balance or snap.balance
        now = snap.equity - start
        if now >= cap:
            return "consistency", (f"the day's profit {book(now)} has reached the best-day cap {book(cap)} "
                                   f"({self.rules.objectives.consistency_pct}% of the target or of the profit so far)")
        reach = snap.balance - start
        for pos in snap.staying():
            if pos.take_profit is not None:
                reach += pnl_in_account_ccy(self.instruments[pos.symbol], pos.side, pos.lots, pos.entry,
                                            pos.take_profit, snap.currency, rates)
            else:
                reach += max(pos.floating_pnl, Decimal(0))
        for order in orders:
            if order.take_profit is not None:
                reach += pnl_in_account_ccy(self.instruments[order.symbol], order.side, order.lots,
                                            order.reference_price, order.take_profit, snap.currency, rates)
        if reach > cap:
            return "consistency", (f"the take-profits would bring the day's profit to {book(reach)}, past the "
                                   f"best-day cap {book(cap)}")
        return None

    def check(self, orders: Sequence[Order], snap: AccountSnapshot, rates: ConversionRates) -> ComplianceDecision:
        """Pre-trade: allow the orders only if the worst case (every open stop, every leg allowed before and not yet
        filled, and the new ones hit) stays inside every hard rule."""
        head = self._headroom(snap, rates)  # the monitor records; the check only reads
        rules = self.rules
        for verdict in (self._timing(orders, snap), self._size(orders, snap), self._open_risk(orders, snap, rates),
                        self._best_day(orders, snap, rates)):
            if verdict is not None:
                return self._veto(verdict[0], verdict[1], head)
        worst_equity = snap.balance + self._pnl_if_stops_hit(snap, rates)
        for _, lots, risk, _ in self.working(snap):  # legs allowed before and not yet filled: they may fill first
            worst_equity -= risk + 2 * self.costs.commission_per_lot * lots
        for order in orders:  # a stop lies on the loss side of its order: the loss is the P&L at the stop
            worst_equity -= self._order_risk(order, snap.currency, rates) + 2 * self.costs.commission_per_lot * order.lots
        initial = snap.initial_balance
        limit = rules.daily_loss_limit(initial, self.state.day_reference)
        daily_floor, floor = self.daily_floor(initial), self.floor(initial)
        daily_after = None if daily_floor is None else worst_equity - daily_floor
        max_after = worst_equity - floor
        # Each floor raised by its safety buffer; the rule named is the one whose line is reached first.
        lines = [("max_loss", floor, self._buffer(rules.max_loss_limit(initial)), "")]
        if daily_floor is not None and limit is not None:
            lines.append(("daily_loss", daily_floor, self._buffer(limit), ""))
        nxt = self._next_reset_line(snap)
        if nxt is not None:  # still open at the next reset, the orders' worst case must hold the next day's floor
            lines.append(("daily_loss", nxt[0], self._buffer(nxt[1]), " at the next reset"))
        broken = self._broken((rule, at + buffer, worst_equity) for rule, at, buffer, _ in lines)
        if broken:
            rule, line, _ = broken[0]
            at, buffer, when = next((a, b, w) for r, a, b, w in lines if r == rule and a + b == line)
            return self._veto(rule, f"worst case leaves {book(worst_equity - at)} above the {rule} floor{when} "
                              f"{book(at)} (buffer {book(buffer)})", head, daily_after, max_after)
        return ComplianceDecision(True, "", "within all rules", None if daily_after is None else book(daily_after),
                                  book(max_after))

    @staticmethod
    def _veto(rule: str, reason: str, head: Headroom, daily: Decimal | None = None,
              max_loss: Decimal | None = None) -> ComplianceDecision:
        """A veto with the worst case after the orders where it was worked out, else as things stand."""
        return ComplianceDecision(
            False, rule, reason,
            book(daily) if daily is not None else head.worst_case_daily_headroom,
            book(max_loss) if max_loss is not None else head.worst_case_max_loss_headroom,
        )
