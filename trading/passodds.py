"""Pass odds: a Monte Carlo of the rest of a challenge from where an account stands, under its
firm's exact rules, and the risk per trade that makes passing most likely.

The model works a day at a time, in fractions of the initial balance. A day is drawn from the
account's own history (``DailyOutcomes.from_trades``: each firm trading day's closed results, in R,
with the lowest and highest point the day's closed results reached on the way) by a circular block
bootstrap of whole days, or from given outcomes with their probabilities. At a risk of ``f`` of the
initial balance per trade, a day that made ``r`` R moves the balance by ``f * r``.

Each simulated day, in this order:
1. the day's reference is the balance at the reset (the account is taken to be flat there); the
   daily floor is ``reference - limit`` (the limit a share of the initial balance or of the
   reference, ``FirmRules.daily_loss_of``);
2. a floor that trails the equity (``MaxLossKind.TRAILING``) first rises with the day's high, then
   the day's low is judged against it: the worse of the two orders;
3. the day's low breaks the daily floor (a hard rule ends the path; a soft one ends the day at the
   floor) or the maximum-loss floor (ends the path), each compared as the firm words it
   (``FirmRules.breach``);
4. with the desk's consistency guard on (``guard_consistency``), a day's profit stops at the guard's
   cap (``consistency_day_cap``);
5. at the close the balance moves, trading and profitable days are counted, the best day is kept,
   and the end-of-day floors (``TRAILING_EOD``, ``TRAILING_DAY_HIGH``) rise;
6. the path passes when the profit target is reached with every other objective met (minimum
   trading and profitable days, the best day at most ``consistency_pct`` of the profit);
7. under an inactivity rule (``FirmRules.activity``), each day adds its calendar days (a Monday the
   weekend's too) to the days since the last trade, and a path whose count passes the firm's limit
   by the day's end ends (``inactivity``), even with a trade that day (it may have come after the
   deadline); a day with a trade leaves the count at 1 (it may have come at the day's start). Whole
   days, each read the safe way, as a trade's time within its day is not known. An account already
   past the limit fails at once.

A path with neither pass nor breach by the last day fails on the time limit when the firm has one,
else is undecided within the horizon. Days are trading days (Monday to Friday): a firm's time limit
in calendar days is turned into the trading days left by ``trading_days_left``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from trading.errors import InvalidValue
from trading.ledger import ClosedTrade
from trading.market import NS_PER_S, iso_to_ts
from trading.rules import Breach, FirmRules, MaxLossKind, PercentOf
from trading.textfile import open_regular

EPS = 1e-9  # fractions of the initial balance closer than this are equal (a thousandth of a cent on 100k)
DEFAULT_FRACTIONS = (0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02)
# paths x risk fractions in one evaluation: about 0.1 GB and a second on 2 cores at the most
MAX_PATH_FRACTIONS = 1_000_000


def consistency_day_cap(consistency_pct: float, target: float, profit_before_day: float) -> float:
    """The most a day may make (fraction of the initial balance) for the best-day rule to hold
    whenever the target is reached: ``c * max(target, profit before the day)``.

    A day at most ``c * target`` is at most ``c`` of any total that reaches the target; once the
    profit before a day exceeds the target, ``c`` of it is still at most ``c`` of the total after a
    profitable day. Inclusive: a day exactly at the cap meets the rule ("exactly 50% meets it")."""
    return consistency_pct / 100 * max(target, profit_before_day)


@dataclass(frozen=True)
class DailyOutcomes:
    """Days to draw from, in R (one R = the risk of one trade).

    close: each day's closed result; low, high: the lowest and highest the day's running closed
    result reached (low <= min(0, close), high >= max(0, close)); traded: a trade closed that day
    (a trading day for ``min_trading_days``). probs: None for a block bootstrap of the days in their
    order (``block`` days at a time), else each day's probability, drawn independently.
    source: where the days come from (the account, a backtest, given)."""

    close: np.ndarray
    low: np.ndarray
    high: np.ndarray
    traded: np.ndarray
    probs: np.ndarray | None = None
    block: int = 5
    source: str = "given"

    def __post_init__(self) -> None:
        n = len(self.close)
        if n == 0:
            raise InvalidValue("daily outcomes", 0, "no day to draw from")
        for name in ("low", "high", "traded"):
            if len(getattr(self, name)) != n:
                raise InvalidValue(f"daily outcomes.{name}", len(getattr(self, name)), f"must have {n} days")
        if not (np.isfinite(self.close).all() and np.isfinite(self.low).all() and np.isfinite(self.high).all()):
            raise InvalidValue("daily outcomes", "nan", "every day's result must be a finite number")
        if (self.low > np.minimum(self.close, 0) + EPS).any() or (self.high < np.maximum(self.close, 0) - EPS).any():
            raise InvalidValue("daily outcomes", "low/high", "a day's low must be <= min(0, close), its high >= max(0, close)")
        if self.probs is not None:
            p = np.asarray(self.probs, dtype=float)
            if len(p) != n or (p < 0).any() or not math.isclose(float(p.sum()), 1.0, rel_tol=1e-9):
                raise InvalidValue("daily outcomes.probs", list(p), "one probability per day, summing to 1")
        if self.block < 1:
            raise InvalidValue("daily outcomes.block", self.block, "must be at least 1 day")

    @property
    def days(self) -> int:
        return len(self.close)

    @classmethod
    def given(cls, outcomes: Sequence[tuple[float, float, float, bool, float]]) -> DailyOutcomes:
        """Independent days from (close, low, high, traded, probability) rows."""
        a = np.array([o[:3] for o in outcomes], dtype=float)
        return cls(a[:, 0], a[:, 1], a[:, 2], np.array([bool(o[3]) for o in outcomes]),
                   np.array([o[4] for o in outcomes], dtype=float), block=1, source="given")

    @classmethod
    def from_days(cls, days: Mapping[date, Sequence[float]], source: str, block: int = 5) -> DailyOutcomes:
        """Each weekday from the first day to the last, from ``{day: (close, low, high)}`` in R; a
        weekday missing is a day of 0 R without a trade (a weekend day with trades counts too)."""
        if not days:
            raise InvalidValue("daily outcomes", 0, "no closed trade to draw days from")
        first, last = min(days), max(days)
        close, low, high, traded = [], [], [], []
        day = first
        while day <= last:
            seen = days.get(day)
            if seen is not None or day.weekday() < 5:
                c, lo, hi = seen if seen is not None else (0.0, 0.0, 0.0)
                close.append(c)
                low.append(lo)
                high.append(hi)
                traded.append(seen is not None)
            day += timedelta(days=1)
        return cls(np.array(close), np.array(low), np.array(high), np.array(traded), None, block, source)

    @classmethod
    def from_trades(cls, trades: Iterable[ClosedTrade], rules: FirmRules, source: str = "account",
                    block: int = 5) -> DailyOutcomes:
        """Each firm trading day (Monday to Friday) from the first trade's to the last one's, in R,
        in the order trades closed; a day without a closed trade is a day of 0 R, not traded."""
        days: dict[date, list[float]] = {}
        for t in sorted(trades, key=lambda t: t.closed_ns):
            add_r(days, rules.trading_day(t.closed_ns), t.r_multiple)
        return cls.from_days(days, source, block)


def add_r(days: dict[date, list[float]], day: date, r: float) -> None:
    """Add a trade's R to its day's (close, low, high): the running result, its lowest and highest."""
    close, low, high = days.get(day, (0.0, 0.0, 0.0))
    close += r
    days[day] = [close, min(low, close), max(high, close)]


@dataclass(frozen=True)
class ChallengeState:
    """Where an account stands at a firm's reset, in fractions of its initial balance.

    profit: balance less initial. peak_equity: the highest equity seen (``TRAILING``).
    eod_peak: the highest end-of-day (or day-high) balance (``TRAILING_EOD``/``TRAILING_DAY_HIGH``).
    trading_days, profitable_days: counted so far. best_day: the best day's profit so far.
    days_left: trading days the simulation may use (the time limit's, or the horizon).
    idle_days: calendar days since the last trade entered (the inactivity rule); weekday: today's
    (Monday 0), so that each simulated trading day is placed on the calendar."""

    profit: float = 0.0
    peak_equity: float = 1.0
    eod_peak: float = 1.0
    trading_days: int = 0
    profitable_days: int = 0
    best_day: float = 0.0
    days_left: int = 60
    idle_days: float = 0.0
    weekday: int = 0

    @classmethod
    def start(cls, days_left: int) -> ChallengeState:
        return cls(days_left=days_left)


@dataclass(frozen=True)
class PassOdds:
    """The Monte Carlo's answer for one risk fraction.

    p_pass; p_fail per rule (daily_loss, max_loss, time_limit, and inactivity under such a rule);
    p_undecided (no time limit and no outcome within the horizon); p_hard_breach: daily_loss +
    max_loss, the breaches a smaller risk can avert (the breaker halves the risk on them; inactivity
    ends the account too, but trading smaller does not help it); days_to_pass: mean trading
    days to pass among passing paths (None: none passed); stderr of p_pass."""

    risk_fraction: float
    p_pass: float
    p_fail: dict[str, float]
    p_undecided: float
    days_to_pass: float | None
    paths: int
    days: int

    @property
    def p_hard_breach(self) -> float:
        return self.p_fail.get("daily_loss", 0.0) + self.p_fail.get("max_loss", 0.0)

    @property
    def stderr(self) -> float:
        return math.sqrt(max(self.p_pass * (1 - self.p_pass), 1e-12) / self.paths)

    def as_dict(self) -> dict[str, object]:
        return {"risk_fraction": self.risk_fraction, "p_pass": round(self.p_pass, 4),
                "p_fail": {k: round(v, 4) for k, v in self.p_fail.items()},
                "p_undecided": round(self.p_undecided, 4), "p_hard_breach": round(self.p_hard_breach, 4),
                "days_to_pass": None if self.days_to_pass is None else round(self.days_to_pass, 1),
                "paths": self.paths, "days": self.days}


@dataclass(frozen=True)
class PassOddsReport:
    """Odds at the account's current risk and across the candidate risks, with the best of them
    (the smallest risk within one standard error of the highest pass probability)."""

    current: PassOdds
    curve: tuple[PassOdds, ...]
    best_risk_fraction: float | None
    source: str
    history_days: int
    has_target: bool
    notes: tuple[str, ...] = field(default=())
    curve_at_ns: int = 0  # when the curve was worked out (the monitor redoes it once a firm day)

    def as_dict(self) -> dict[str, object]:
        def odds(c: PassOdds) -> dict[str, object]:  # without a target there is nothing to pass
            d = c.as_dict()
            return d if self.has_target else {**d, "p_pass": None, "days_to_pass": None}
        return {"current": odds(self.current), "curve": [odds(c) for c in self.curve],
                "best_risk_fraction": self.best_risk_fraction, "source": self.source,
                "history_days": self.history_days, "has_target": self.has_target, "notes": list(self.notes),
                "curve_at_ns": self.curve_at_ns}


def _broken(breach: Breach, headroom: np.ndarray) -> np.ndarray:
    """``Breach.broken`` on arrays, with fractions within ``EPS`` taken as equal."""
    if breach is Breach.AT_OR_BELOW:
        return headroom <= EPS
    return headroom < -EPS


class _Days:
    """Draws day indices into the outcomes, one day of every path at a time: independent days, or
    circular blocks of ``block`` consecutive days, each block starting at a random day."""

    def __init__(self, outcomes: DailyOutcomes, paths: int, rng: np.random.Generator) -> None:
        self.outcomes, self.paths, self.rng = outcomes, paths, rng
        self.block = min(outcomes.block, outcomes.days)
        self.at = np.zeros(paths, dtype=np.int64)
        self.day = 0

    def next(self) -> np.ndarray:
        o = self.outcomes
        if o.probs is not None:
            return self.rng.choice(o.days, size=self.paths, p=o.probs)
        if self.day % self.block == 0:
            self.at = self.rng.integers(0, o.days, size=self.paths)
        else:
            self.at = (self.at + 1) % o.days
        self.day += 1
        return self.at


def simulate(rules: FirmRules, state: ChallengeState, outcomes: DailyOutcomes,
             fractions: Sequence[float], paths: int = 10_000, seed: int = 0,
             guard_consistency: bool = False) -> list[PassOdds]:
    """The challenge's rest at each risk fraction, on the same drawn days (common random numbers,
    so the fractions are compared on equal luck)."""
    if paths < 1:
        raise InvalidValue("paths", paths, "must be at least 1")
    if not fractions or any(not 0 < f < 1 for f in fractions):
        raise InvalidValue("risk fractions", list(fractions), "each must be in (0, 1)")
    if paths * len(fractions) > MAX_PATH_FRACTIONS:
        raise InvalidValue("paths x risk fractions", paths * len(fractions), f"at most {MAX_PATH_FRACTIONS:,}")
    days = max(int(state.days_left), 0)
    obj = rules.objectives
    target = float(obj.profit_target_pct) / 100
    consistency = float(obj.consistency_pct)
    daily_pct = None if rules.daily_loss_pct is None else float(rules.daily_loss_pct) / 100
    max_loss = float(rules.max_loss_pct) / 100
    kind = rules.max_loss_kind
    min_prof = float(obj.min_profitable_day_pct) / 100
    f = np.asarray(fractions, dtype=float)[:, None]  # (F, 1)
    shape = (len(fractions), paths)
    draws = _Days(outcomes, paths, np.random.default_rng(seed))

    balance = np.full(shape, 1.0 + state.profit)
    peak = np.full(shape, max(state.peak_equity, 1.0 + state.profit))
    eod_peak = np.full(shape, state.eod_peak)
    trading = np.full(shape, state.trading_days)
    profitable = np.full(shape, state.profitable_days)
    best = np.full(shape, state.best_day)
    alive = np.ones(shape, dtype=bool)
    passed_on = np.zeros(shape, dtype=int)  # the day (1-based) a path passed, 0 = not
    failed = {rule: np.zeros(shape, dtype=bool) for rule in ("daily_loss", "max_loss")}
    idle_limit = rules.activity.max_idle_days
    if idle_limit:  # calendar days since the last trade, and each simulated day's calendar step
        failed["inactivity"] = np.zeros(shape, dtype=bool)
        idle = np.full(shape, state.idle_days)
        steps = _calendar_steps(state.weekday, days)
        if state.idle_days > idle_limit:  # the stretch has run out already: the firm has closed it
            failed["inactivity"][:] = alive
            alive[:] = False

    def max_floor() -> np.ndarray:
        if kind is MaxLossKind.STATIC:
            return np.full(shape, 1.0 - max_loss)
        trail = peak if kind is MaxLossKind.TRAILING else eod_peak
        floor: np.ndarray = np.maximum(trail, 1.0) - max_loss
        return np.minimum(floor, 1.0) if rules.lock_at_initial else floor

    def reached() -> np.ndarray:
        profit = balance - 1.0
        ok = (profit >= target - EPS) & (trading >= obj.min_trading_days) & (profitable >= obj.min_profitable_days)
        if consistency:
            ok &= (profit > EPS) & (best <= consistency / 100 * profit + EPS)
        return ok

    if target > 0:  # already there (an account checked right after its target closed)
        done = reached()
        passed_on[done] = -1
        alive &= ~done
    for d in range(days):
        if not alive.any():
            break
        col = draws.next()
        close = outcomes.close[col][None, :] * f
        low = outcomes.low[col][None, :] * f
        high = outcomes.high[col][None, :] * f
        traded = outcomes.traded[col][None, :]
        reference = balance
        if guard_consistency and consistency and target > 0:
            cap = consistency / 100 * np.maximum(target, balance - 1.0)
            high = np.minimum(high, cap)
            close = np.minimum(close, cap)
        if kind is MaxLossKind.TRAILING:
            peak = np.where(alive, np.maximum(peak, reference + high), peak)
        floor = max_floor()
        lowest = reference + low
        hit_max = alive & _broken(rules.breach, lowest - floor)
        if daily_pct is not None:
            limit = daily_pct * (1.0 if rules.daily_loss_of is PercentOf.INITIAL else reference)
            daily_floor = reference - limit
            hit_daily = alive & _broken(rules.breach, lowest - daily_floor)
            if rules.daily_loss_hard:
                # the floor a falling equity reaches first is the one the firm names
                first_daily = hit_daily & (~hit_max | (daily_floor >= floor))
                failed["daily_loss"] |= first_daily
                failed["max_loss"] |= hit_max & ~first_daily
                alive &= ~(hit_daily | hit_max)
            else:  # a soft limit pauses the day: it ends at the floor, unless the maximum-loss floor comes first
                paused = hit_daily & (daily_floor > floor + EPS)
                failed["max_loss"] |= hit_max & ~paused
                alive &= ~(hit_max & ~paused)
                close = np.where(paused, daily_floor - reference, close)
        else:
            failed["max_loss"] |= hit_max
            alive &= ~hit_max
        if idle_limit:
            due = idle + steps[d]
            quiet = alive & (due > idle_limit)
            failed["inactivity"] |= quiet
            alive &= ~quiet
            idle = np.where(traded, 1.0, due)
        balance = np.where(alive, balance + close, balance)
        trading = np.where(alive & traded, trading + 1, trading)
        profitable = np.where(alive & (close > EPS) & (close >= min_prof - EPS), profitable + 1, profitable)
        best = np.where(alive, np.maximum(best, close), best)
        if kind is MaxLossKind.TRAILING_EOD:
            eod_peak = np.where(alive, np.maximum(eod_peak, balance), eod_peak)
        elif kind is MaxLossKind.TRAILING_DAY_HIGH:
            eod_peak = np.where(alive, np.maximum(eod_peak, reference + high), eod_peak)
        if target > 0:
            done = alive & reached()
            passed_on[done] = d + 1
            alive &= ~done

    out = []
    timed = bool(obj.time_limit_days) and target > 0
    for i, frac in enumerate(fractions):
        passed = passed_on[i] != 0
        p_pass = float(passed.mean())
        fail = {rule: float(arr[i].mean()) for rule, arr in failed.items()}
        rest = float(alive[i].mean())
        if timed:
            fail["time_limit"] = rest
            rest = 0.0
        took = passed_on[i][passed_on[i] > 0]
        days_to = float(took.mean()) if took.size else (0.0 if passed.any() else None)
        out.append(PassOdds(float(frac), p_pass, fail, rest, days_to, paths, days))
    return out


def _calendar_steps(weekday: int, days: int) -> list[int]:
    """The calendar days from each simulated trading day (Monday to Friday) to the next, the first
    from today (weekday ``weekday``, Monday 0): 1, or 3 to a Monday (2 from a Saturday, 1 from a Sunday)."""
    steps, day = [], weekday
    for _ in range(days):
        step = 1
        while (day + step) % 7 >= 5:
            step += 1
        steps.append(step)
        day = (day + step) % 7
    return steps


def trading_days_left(rules: FirmRules, first_ns: int, now_ns: int, horizon: int) -> int:
    """Trading days (Monday to Friday, firm days) after ``now`` within the firm's time limit
    counted from ``first_ns``; ``horizon`` without a time limit."""
    limit = rules.objectives.time_limit_days
    if not limit:
        return horizon
    today = rules.trading_day(now_ns)
    end = rules.trading_day(first_ns + limit * 86_400 * NS_PER_S)
    n, day = 0, today + timedelta(days=1)
    while day <= end:
        n += day.weekday() < 5
        day += timedelta(days=1)
    return n


def best_fraction(curve: Sequence[PassOdds]) -> float | None:
    """The smallest risk whose pass probability is within one standard error of the highest."""
    if not curve:
        return None
    top = max(curve, key=lambda c: c.p_pass)
    if top.p_pass <= 0:
        return None
    return min(c.risk_fraction for c in curve if c.p_pass >= top.p_pass - top.stderr)


def pass_odds(rules: FirmRules, state: ChallengeState, outcomes: DailyOutcomes, risk_fraction: float,
              fractions: Sequence[float] = DEFAULT_FRACTIONS, paths: int = 10_000, seed: int = 0,
              guard_consistency: bool = False) -> PassOddsReport:
    """Odds at ``risk_fraction`` and across ``fractions``, with the best of them."""
    grid = sorted({*fractions, risk_fraction})
    curve = simulate(rules, state, outcomes, grid, paths, seed, guard_consistency)
    current = next(c for c in curve if c.risk_fraction == risk_fraction)
    has_target = bool(rules.objectives.profit_target_pct)
    notes = []
    if not has_target:
        notes.append("no profit target: only the breach odds over the horizon mean anything")
    return PassOddsReport(current, tuple(curve), best_fraction(curve) if has_target else None, outcomes.source,
                          outcomes.days, has_target, tuple(notes))


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """The pass-odds monitor of a desk.

    enabled: run it (accounts whose phase has a profit target, or all when ``breach_odds_only`` is
        not wanted: an account without a target gets its breach odds over the horizon).
    paths: Monte Carlo paths per evaluation (default 10,000). horizon_days: trading days simulated
        when the firm sets no time limit (default 60). min_history_days: the account's own history
        is used once it spans this many trading days (default 10); before that, ``prior`` (days from
        a backtest's trades) if given, else no odds. every_minutes: after closed trades, at most one
        evaluation per this many minutes of market time (a new firm day always evaluates).
    fractions: the risks per trade compared, as fractions of the initial balance.
    block_days: the bootstrap's block of consecutive days (default 5).
    """

    enabled: bool = True
    paths: int = 10_000
    horizon_days: int = 60
    min_history_days: int = 10
    every_minutes: int = 60
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    block_days: int = 5


@dataclass
class AccountOdds:
    """What the monitor keeps of one account: its days in R, when it last ran, its last answer."""

    days: dict[date, list[float]] = field(default_factory=dict)
    last_ns: int = 0
    last_day: date | None = None
    report: PassOddsReport | None = None
    why_none: str = ""


KEPT_DAYS = 500  # an account's most recent trading days kept for the bootstrap (two years)


class PassOddsMonitor:
    """Pass odds per account, re-evaluated after closed trades and at each new firm day.

    risk_pct: each account's configured risk per trade in percent of balance (ARIA's), taken as the
    current risk fraction. priors: per account, days to draw from before it has its own history."""

    def __init__(self, settings: MonitorSettings, risk_pct: Mapping[str, float],
                 priors: Mapping[str, DailyOutcomes] | None = None, guard_consistency: bool = True) -> None:
        self.settings = settings
        self.guard_consistency = guard_consistency
        self.risk_pct = dict(risk_pct)
        self.priors = dict(priors or {})
        self.accounts: dict[str, AccountOdds] = {acc: AccountOdds() for acc in risk_pct}

    def record(self, acc: str, rules: FirmRules, trades: Iterable[ClosedTrade]) -> bool:
        """Add closed trades to the account's days; True if there were any."""
        odds = self.accounts[acc]
        added = False
        for t in sorted(trades, key=lambda t: t.closed_ns):
            add_r(odds.days, rules.trading_day(t.closed_ns), t.r_multiple)
            added = True
        for old in sorted(odds.days)[:-KEPT_DAYS]:
            del odds.days[old]
        return added

    def due(self, acc: str, rules: FirmRules, ts_ns: int, traded: bool) -> bool:
        odds = self.accounts[acc]
        if not self.settings.enabled:
            return False
        if odds.last_day != rules.trading_day(ts_ns):
            return True
        return traded and ts_ns - odds.last_ns >= self.settings.every_minutes * 60 * NS_PER_S

    def evaluate(self, acc: str, rules: FirmRules, state: ChallengeState, ts_ns: int) -> PassOddsReport | None:
        """Run the Monte Carlo for ``acc`` from ``state``; None (with ``why_none``) without days to draw.
        The first evaluation of a firm day compares every risk in ``fractions``; later ones that day
        (after closed trades) redo only the current risk and keep the day's curve."""
        odds = self.accounts[acc]
        today = rules.trading_day(ts_ns)
        whole = odds.report is None or odds.last_day != today
        odds.last_ns, odds.last_day = ts_ns, today
        traded_days = len(odds.days)
        outcomes: DailyOutcomes | None = None
        if traded_days >= self.settings.min_history_days:
            outcomes = DailyOutcomes.from_days(odds.days, "account", self.settings.block_days)
        elif acc in self.priors:
            outcomes = self.priors[acc]
        if outcomes is None:
            odds.report = None
            odds.why_none = (f"{traded_days} of {self.settings.min_history_days} trading days of history, "
                             f"and no backtest prior configured")
            return None
        fraction = self.risk_pct[acc] / 100
        seed = _seed(acc, ts_ns)
        if whole or odds.report is None:
            odds.report = replace(pass_odds(rules, state, outcomes, fraction, self.settings.fractions,
                                            self.settings.paths, seed, self.guard_consistency), curve_at_ns=ts_ns)
        else:
            [current] = simulate(rules, state, outcomes, [fraction], self.settings.paths, seed, self.guard_consistency)
            odds.report = replace(odds.report, current=current, source=outcomes.source, history_days=outcomes.days)
        odds.why_none = ""
        return odds.report


def _seed(acc: str, ts_ns: int) -> int:
    """A seed from the account and the time: the same evaluation gives the same odds in a
    backtest and a desk session (Python's str hash is salted per process)."""
    return int.from_bytes(acc.encode()[:8].ljust(8, b"\0"), "little") ^ ts_ns


TRADES_MAX_BYTES = 1 << 30  # about ten million trades


def read_trades_csv(path: Path) -> list[tuple[int, float]]:
    """(closed_ns, r_multiple) of each trade in a backtest's ``trades.csv`` (``octet report``'s:
    ``closed_utc`` and ``r_multiple``; a time without a zone is UTC, as the column says); a bad row is named
    by its line, a bad file by what it is."""
    out: list[tuple[int, float]] = []
    try:
        with open_regular(path, "a backtest's trades", TRADES_MAX_BYTES) as fh:
            reader = csv.DictReader(fh)
            try:
                missing = {"closed_utc", "r_multiple"} - set(reader.fieldnames or ())
                if missing:
                    raise InvalidValue(str(path), sorted(missing), "a trades.csv from octet report has these columns")
                for row in reader:
                    n = reader.reader.line_num
                    try:
                        closed = iso_to_ts(row["closed_utc"] or "")  # no zone (octet report writes none): UTC, as named
                        r = float(row["r_multiple"] or "")
                        if not math.isfinite(r):
                            raise ValueError("r_multiple is not a finite number")
                        out.append((closed, r))
                    except (ValueError, TypeError, OverflowError) as exc:
                        raise InvalidValue(f"{path}:{n}", row.get("closed_utc"),
                                           f"not a closed trade ({exc})") from None
            except csv.Error as exc:
                raise InvalidValue(f"{path}:{reader.reader.line_num}", "", f"not a CSV file ({exc})") from None
            except UnicodeDecodeError:
                raise InvalidValue(str(path), "", "not UTF-8 text: a trades.csv from octet report is") from None
    except OSError as exc:
        raise InvalidValue(str(path), "", f"cannot read the backtest trades ({exc.strerror})") from None
    return out


def prior_from_trades_csv(path: Path, rules: FirmRules, block: int = 5) -> DailyOutcomes:
    """Days from a backtest's ``trades.csv`` (``read_trades_csv``), each trade on its firm day."""
    days: dict[date, list[float]] = {}
    for closed_ns, r in read_trades_csv(path):
        add_r(days, rules.trading_day(closed_ns), r)
    return DailyOutcomes.from_days(days, f"backtest {path.name}", block)
