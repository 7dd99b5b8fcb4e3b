"""Which signals to trust: the features a signal had when it was made, its outcome, and how a model
of the two is judged (walk-forward folds with an embargo, AUC, Brier score, calibration, and the
expectancy of the trades it would take). Pure: the training runs on Ray Train (cluster.research.learn),
the scoring in the desk (cluster.desk.trust).

Every feature is known at the signal's time, never after: the signal's own evidence (what the
Wyckoff detector saw up to the bar that made it), the hour and weekday of its bar, the instrument's
volatility against the signals before it, the accounts' headroom as the desk last booked it before
the signal, and the results of trades closed before it. ``LiveContext`` builds it as the desk goes;
``contexts`` builds it the same way from a run's records. A test truncates every history at a
signal and gets the same features.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trading.errors import InvalidValue
from trading.orders import Side, Signal

NAN = float("nan")

# A signal's evidence event -> the feature group it fills (both sides of a structure share a group).
GROUPS = {
    "preliminary_support": "ps", "preliminary_supply": "ps",
    "selling_climax": "climax", "buying_climax": "climax",
    "automatic_rally": "ar", "automatic_reaction": "ar",
    "secondary_test": "st",
    "spring": "test", "upthrust": "test",
    "sign_of_strength": "sos", "sign_of_weakness": "sos",
    "last_point_of_support": "lps", "last_point_of_supply": "lps",
    "structure": "structure", "cause": "cause",
}
# The numbers of each group that become features (others an event may carry are left out, so a new
# number in the detector does not change a model's inputs unannounced).
EVIDENCE = {
    "climax": ("volume_ratio", "range_atr", "heavy_bar_bars_before"),
    "ar": ("height_atr", "retrace"),
    "st": ("volume_climax", "depth_height"),
    "test": ("penetration_atr", "penetration_height", "volume_ratio", "recovery_bars", "tests"),
    "sos": ("beyond_height", "range_atr", "volume_ratio"),
    "lps": ("volume_ratio", "hold_height"),
    "structure": ("context", "direction", "regime", "no_demand", "no_supply", "effort_no_result"),
    "cause": ("pnf_columns", "height_atr", "htf_regime", "reward_risk"),
}
SIGNAL = ("side", "confidence", "phase_c", "has_ps", "has_st", "has_test", "has_sos", "stop_atr", "reward_risk_1")
MARKET = ("session", "weekday", "atr_regime")
ACCOUNT = ("daily_fraction", "max_loss_fraction", "recent_mean_r", "recent_win_rate")
FEATURES: tuple[str, ...] = (*SIGNAL, *(f"{g}.{k}" for g, keys in EVIDENCE.items() for k in keys), *MARKET, *ACCOUNT)

RECENT_TRADES = 10  # "recent results": the last this many trades closed before the signal
REGIME_SIGNALS = 20  # the volatility regime: the signal's ATR over the median of this many before it
REGIME_MIN = 5  # fewer signals before it: no regime (missing)


def session_of(ts_ns: int) -> float:
    """The FX session of the hour (UTC): 0 Asia (21-7), 1 London (7-12), 2 London/New York (12-16),
    3 New York (16-21)."""
    hour = (ts_ns // 3_600_000_000_000) % 24
    return 1.0 if 7 <= hour < 12 else 2.0 if 12 <= hour < 16 else 3.0 if 16 <= hour < 21 else 0.0


@dataclass(frozen=True, slots=True)
class Context:
    """What the desk knew around the signal, apart from the signal itself."""

    atr_regime: float = NAN  # the signal's ATR over the median ATR of the instrument's signals before it
    daily_fraction: float = NAN  # the tightest account's remaining share of its daily limit (1 = untouched)
    max_loss_fraction: float = NAN  # the tightest account's maximum-loss headroom over its initial balance
    recent_mean_r: float = NAN  # mean R of the last RECENT_TRADES trades closed before the signal
    recent_win_rate: float = NAN

    def as_record(self) -> dict[str, float | None]:
        """As the store keeps it with the signal (JSON: a missing figure is null)."""
        return {k: (v if math.isfinite(v) else None) for k in CONTEXT_FIELDS for v in [float(getattr(self, k))]}

    @staticmethod
    def from_record(record: Mapping[str, object]) -> Context:
        def value(k: str) -> float:
            v = record.get(k)
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else NAN

        return Context(**{k: value(k) for k in CONTEXT_FIELDS})


CONTEXT_FIELDS = ("atr_regime", "daily_fraction", "max_loss_fraction", "recent_mean_r", "recent_win_rate")


def features(signal: Signal, ctx: Context) -> dict[str, float]:
    """The signal's features, every one of FEATURES (NaN where the signal has no such evidence)."""
    out = dict.fromkeys(FEATURES, NAN)
    events = {GROUPS.get(e.event, ""): dict(e.numbers) for e in signal.evidence}
    for group, keys in EVIDENCE.items():
        nums = events.get(group)
        if nums is not None:
            for k in keys:
                if k in nums:
                    out[f"{group}.{k}"] = float(nums[k])
    risk = float(abs(signal.entry - signal.stop))
    out.update(side=1.0 if signal.side is Side.BUY else -1.0, confidence=signal.confidence,
               phase_c=float(signal.setup in ("spring", "upthrust")),
               has_ps=float("ps" in events), has_st=float("st" in events), has_test=float("test" in events),
               has_sos=float("sos" in events),
               stop_atr=risk / signal.atr if signal.atr > 0 else NAN,
               reward_risk_1=float(abs(signal.targets[0] - signal.entry)) / risk if signal.targets and risk else NAN,
               session=session_of(signal.ts_ns), weekday=float((signal.ts_ns // 86_400_000_000_000 + 3) % 7),
               atr_regime=ctx.atr_regime, daily_fraction=ctx.daily_fraction, max_loss_fraction=ctx.max_loss_fraction,
               recent_mean_r=ctx.recent_mean_r, recent_win_rate=ctx.recent_win_rate)
    return {k: v if math.isfinite(v) else NAN for k, v in out.items()}  # an infinite figure is no figure


# -- the context, from histories cut at the signal ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class TradeOutcome:
    """A closed trade as the context sees it: when it closed and its R multiple."""

    closed_ns: int
    r: float


@dataclass(frozen=True, slots=True)
class HeadroomPoint:
    """An account's headroom as the desk booked it at ``ts_ns``."""

    ts_ns: int
    account_id: str
    daily_fraction: float
    max_loss_fraction: float

    @staticmethod
    def of(ts_ns: int, account_id: str, daily_fraction: float, max_loss_headroom: float,
           initial_balance: float | None) -> HeadroomPoint:
        """From the booked figures: the maximum-loss headroom over the account's initial balance."""
        return HeadroomPoint(ts_ns, account_id, daily_fraction,
                             max_loss_headroom / initial_balance if initial_balance else NAN)


def atr_regime(atr: float, before: Sequence[float]) -> float:
    """``atr`` over the median of the last REGIME_SIGNALS ATRs ``before`` it (NaN with fewer than REGIME_MIN)."""
    last = [a for a in before[-REGIME_SIGNALS:] if a > 0]
    if len(last) < REGIME_MIN or atr <= 0:
        return NAN
    return atr / float(np.median(last))


def recent(outcomes: Sequence[TradeOutcome]) -> tuple[float, float]:
    """Mean R and win rate of the last RECENT_TRADES ``outcomes`` (in the order they closed)."""
    last = [o.r for o in outcomes[-RECENT_TRADES:]]
    if not last:
        return NAN, NAN
    return sum(last) / len(last), sum(r > 0 for r in last) / len(last)


def tightest(points: Mapping[str, HeadroomPoint]) -> tuple[float, float]:
    """The smallest daily fraction and maximum-loss fraction over the accounts' latest points."""
    if not points:
        return NAN, NAN
    daily = [p.daily_fraction for p in points.values() if not math.isnan(p.daily_fraction)]
    return (min(daily) if daily else NAN), min(p.max_loss_fraction for p in points.values())


def contexts(signals: Sequence[Signal], closed: Sequence[TradeOutcome], headroom: Sequence[HeadroomPoint]) -> list[Context]:
    """The context of every signal of one run (signals in time order) from its records: a
    ``LiveContext`` fed, before each signal, the trades closed strictly before it and the headroom
    booked at or before it, as the desk feeds its own as it goes."""
    closed = sorted(closed, key=lambda o: o.closed_ns)
    headroom = sorted(headroom, key=lambda p: p.ts_ns)
    live = LiveContext()
    c = h = 0
    out = []
    for s in signals:
        start = c
        while c < len(closed) and closed[c].closed_ns < s.ts_ns:
            c += 1
        live.on_trades(closed[max(start, c - RECENT_TRADES):c])  # (the context reads no more than these)
        start = h
        while h < len(headroom) and headroom[h].ts_ns <= s.ts_ns:
            h += 1
        live.on_headroom(headroom[start:h])
        out.append(live.at(s))
    return out


@dataclass
class LiveContext:
    """The same context, kept up to date by the desk as it goes (``cluster.desk.trust``)."""

    atrs: dict[str, list[float]] = field(default_factory=dict)
    closed: list[TradeOutcome] = field(default_factory=list)
    headroom: dict[str, HeadroomPoint] = field(default_factory=dict)

    def on_trades(self, outcomes: Iterable[TradeOutcome]) -> None:
        self.closed.extend(outcomes)
        self.closed.sort(key=lambda o: o.closed_ns)
        del self.closed[:-RECENT_TRADES * 4]

    def on_headroom(self, points: Iterable[HeadroomPoint]) -> None:
        for p in points:
            self.headroom[p.account_id] = p

    def at(self, signal: Signal) -> Context:
        """The signal's context; the signal then joins its instrument's ATR history."""
        before = self.atrs.setdefault(signal.symbol, [])
        cut = bisect_left([o.closed_ns for o in self.closed], signal.ts_ns)
        mean_r, win = recent(self.closed[:cut])
        # the accounts' headroom as last booked: on the desk, at the tick that made the signal known
        # (the saga's own state); rebuilt from records (``contexts``), the last booked by its bar's end
        daily, max_loss = tightest(self.headroom)
        ctx = Context(atr_regime(signal.atr, before), daily, max_loss, mean_r, win)
        before.append(signal.atr)
        del before[:-REGIME_SIGNALS]
        return ctx


# -- labels --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    """How a signal's trades ended: R over all its trades (P&L over the risk taken), whether the
    first to close reached a target before its stop, and when the last closed."""

    r: float
    won: bool
    target_first: bool
    closed_ns: int


def outcome(trades: Sequence[tuple[int, float, float, str]]) -> Outcome | None:
    """From the signal's trades as (closed_ns, pnl, initial risk, close reason); None without risk taken."""
    risk = sum(t[2] for t in trades)
    if not trades or risk <= 0:
        return None
    r = sum(t[1] for t in trades) / risk
    first = min(trades, key=lambda t: t[0])
    return Outcome(r, r > 0, first[3] == "take_profit", max(t[0] for t in trades))


# -- judging a model -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Fold:
    """One walk-forward fold, as row indices of samples sorted by time."""

    index: int
    train: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]
    test_from_ns: int
    test_to_ns: int


def walk_forward(ts_ns: npt.NDArray[np.int64], n_folds: int, embargo_ns: int,
                 label_end_ns: npt.NDArray[np.int64] | None = None, min_train: int = 50) -> list[Fold]:
    """``n_folds`` consecutive test blocks over the second part of the samples (time-sorted, ``ts_ns``
    non-decreasing), each trained on everything before it (expanding). A training sample is purged
    when it falls within ``embargo_ns`` of the test block's start, or its outcome was known
    (``label_end_ns``) at or after it: no label in training reaches into the test block. A fold
    with fewer than ``min_train`` training samples is left out."""
    if n_folds < 1:
        raise InvalidValue("n_folds", n_folds, "must be at least 1")
    if embargo_ns < 0:
        raise InvalidValue("embargo_ns", embargo_ns, "must not be negative")
    n = len(ts_ns)
    if n and np.any(np.diff(ts_ns) < 0):
        raise InvalidValue("ts_ns", "unsorted", "samples must be in time order")
    ends = label_end_ns if label_end_ns is not None else ts_ns
    edges = np.linspace(n // 2, n, n_folds + 1).astype(np.int64)  # the first half trains the first fold
    folds: list[Fold] = []
    for k in range(n_folds):
        lo, hi = int(edges[k]), int(edges[k + 1])
        if hi <= lo:
            continue
        start = int(ts_ns[lo])
        before = np.arange(lo)
        keep = (ts_ns[:lo] < start - embargo_ns) & (ends[:lo] < start)
        train = before[keep]
        if len(train) < min_train:
            continue
        folds.append(Fold(len(folds), train, np.arange(lo, hi), start, int(ts_ns[hi - 1])))
    return folds


def auc(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve (ties count a half); NaN when one class is absent."""
    yb: npt.NDArray[np.bool_] = np.asarray(y, dtype=bool)
    pos, neg = int(yb.sum()), int(len(yb) - yb.sum())
    if pos == 0 or neg == 0:
        return NAN
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sp = np.asarray(p)[order]
    i = 0
    while i < len(sp):  # average ranks over ties
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[yb].sum() - pos * (pos + 1) / 2) / (pos * neg))


def brier(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


def calibration(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64], bins: int = 10) -> list[dict[str, float]]:
    """Per probability bin with samples: its count, mean predicted probability and observed rate."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    return [{"bin": b / bins, "n": int(m.sum()), "predicted": float(p[m].mean()), "observed": float(y[m].mean())}
            for b in range(bins) if (m := which == b).any()]


def expectancy(r: npt.NDArray[np.float64], p: npt.NDArray[np.float64], threshold: float) -> dict[str, float]:
    """Mean R of the trades the model would take (p >= threshold) against taking every signal."""
    r, p = np.asarray(r, dtype=np.float64), np.asarray(p, dtype=np.float64)
    taken = p >= threshold
    return {"all_mean_r": float(r.mean()) if len(r) else NAN, "all_n": int(len(r)),
            "taken_mean_r": float(r[taken].mean()) if taken.any() else NAN, "taken_n": int(taken.sum()),
            "all_total_r": float(r.sum()), "taken_total_r": float(r[taken].sum())}


def fold_metrics(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64], r: npt.NDArray[np.float64],
                 threshold: float) -> dict[str, object]:
    return {"n": int(len(y)), "auc": auc(y, p), "brier": brier(y, p), "base_rate": float(np.mean(y)) if len(y) else NAN,
            "calibration": calibration(y, p), **expectancy(r, p, threshold)}


@dataclass(frozen=True, slots=True)
class Verdict:
    promote: bool
    reason: str


def auc_se(a: float, pos: int, neg: int) -> float:
    """The standard error of an AUC over ``pos`` and ``neg`` samples (Hanley and McNeil, 1982)."""
    if pos < 1 or neg < 1 or math.isnan(a):
        return NAN
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return math.sqrt(max(0.0, (a * (1 - a) + (pos - 1) * (q1 - a * a) + (neg - 1) * (q2 - a * a)) / (pos * neg)))


def pooled_z(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64],
             base: npt.NDArray[np.float64] | None = None) -> tuple[float, float]:
    """The AUC of ``p`` over all the judged test samples together, and how many standard errors it is
    above the baseline's: chance (0.5), or the AUC of ``base`` on the same samples (the two errors
    taken as independent: the samples are shared, so the true error of the difference is smaller and
    the test errs against the challenger)."""
    yb = np.asarray(y, dtype=bool)
    pos, neg = int(yb.sum()), int(len(yb) - yb.sum())
    a = auc(y, p)
    se = auc_se(a, pos, neg)
    b = 0.5 if base is None else auc(y, base)
    both = se if base is None else math.sqrt(se * se + auc_se(b, pos, neg) ** 2)
    if math.isnan(a) or math.isnan(b) or math.isnan(both):
        return a, NAN
    if both == 0:  # a perfect ranking against a perfect (or chance) baseline: no spread to measure
        return a, math.inf if a > b else 0.0
    return a, (a - b) / both


Z_PROMOTE = 1.645  # one-sided 95 %


def judge(challenger: Sequence[float], champion: Sequence[float] | None, margin: float,
          edge: Sequence[float] | None = None, z: float | None = None) -> Verdict:
    """Promote the challenger when its out-of-sample AUC, fold by fold on the same folds, beats the
    champion's by ``margin`` on average and in a majority of the folds (with no champion, chance: 0.5),
    and, given ``edge`` (per fold: the mean R of the trades the challenger would take less that of the
    baseline's: the champion's, or every signal's), the trades it takes are no worse on average, and,
    given ``z`` (``pooled_z``), its AUC over all the judged samples is at least Z_PROMOTE standard errors
    above the baseline's: not luck. Folds with no AUC (one class only), or no edge (no trade taken),
    are left out of those figures."""
    base = list(champion) if champion is not None else [0.5] * len(challenger)
    if len(base) != len(challenger) or (edge is not None and len(edge) != len(challenger)):
        raise InvalidValue("folds", len(challenger), f"the champion was judged on {len(base)} folds")
    pairs = [(c, b) for c, b in zip(challenger, base, strict=True) if not (math.isnan(c) or math.isnan(b))]
    if not pairs:
        return Verdict(False, "no fold with both outcomes to judge on")
    gain = sum(c - b for c, b in pairs) / len(pairs)
    wins = sum(c > b for c, b in pairs)
    who = "the champion" if champion is not None else "chance"
    said = f"out-of-sample AUC {gain:+.3f} over {who} on average, better in {wins} of {len(pairs)} folds"
    edges = [e for e in (edge or []) if not math.isnan(e)]
    mean_edge = sum(edges) / len(edges) if edges else math.nan
    if edge is not None:
        said += (f"; the trades it takes {mean_edge:+.3f} R each against "
                 f"{'the champion' if champion is not None else 'every signal'}'s" if edges else
                 "; no fold where it takes a trade")
    if z is not None:
        said += f"; pooled, {z:.2f} standard errors above {who}"
    if gain < margin or wins * 2 <= len(pairs):
        return Verdict(False, f"{said}: not the margin {margin} and a majority")
    if z is not None and not z >= Z_PROMOTE:
        return Verdict(False, f"{said}: could be luck (fewer than {Z_PROMOTE})")
    if edge is not None and not mean_edge >= 0:
        return Verdict(False, f"{said}: its trades are worse")
    return Verdict(True, f"{said} (margin {margin})")
