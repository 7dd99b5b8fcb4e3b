"""Property: for every preset, no random sequence of quotes, orders and fills gets an order
through whose worst case breaks a hard rule, today or at the next reset (the positions still open
then, at their stops), nor past the lots the account may hold today (a scaling plan's step included) or the
loss its open positions and the new order may take at their stops together (``max_open_risk_pct``).

The oracle is independent of ``AccountRules``: it books the allowed order into a copy of the
account's ledger at its worst entry, closes every position at the worse of its current price and
its stop less the slippage allowance, and compares the equity left with the limits it tracks
itself from the preset's numbers (the day's reference at each firm reset, the equity peak, the
end-of-day balance peak).
"""

from __future__ import annotations

import copy
import itertools
from datetime import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading.compliance import AccountRules, CostAllowance
from trading.fx import ConversionRates
from trading.instruments import Instrument, InstrumentRegistry
from trading.ledger import AccountLedger, pnl_in_account_ccy
from trading.market import NS_PER_S
from trading.news import NewsCalendar
from trading.orders import CloseReason, Fill, FillKind, Order, OrderType, Side
from trading.presets import PRESET_DIR, load_preset, preset_names
from trading.rules import Breach, DailyReference, FirmRules, MaxLossKind, PercentOf

REG = InstrumentRegistry([Instrument("EURUSD", "EUR", "USD", 5, Decimal("0.0001")),
                          Instrument("USDJPY", "USD", "JPY", 3, Decimal("0.01"))])
COSTS = CostAllowance(Decimal(1), Decimal("3.5"), Decimal(10))
START = 1_772_445_600 * NS_PER_S  # Monday 2026-03-02 10:00 UTC
NEWS = NewsCalendar.from_csv(PRESET_DIR / "news_2026.csv")
INITIAL = Decimal(100_000)

tick = st.tuples(st.just("tick"), st.integers(-60, 60), st.integers(-60, 60), st.integers(1, 400))
order = st.tuples(st.just("order"), st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 3000),
                  st.integers(2, 150), st.integers(0, 40), st.sampled_from(["EURUSD", "USDJPY"]))
steps = st.lists(st.one_of(tick, order), min_size=1, max_size=40)


class Oracle:
    """The limits, tracked from the preset's numbers alone."""

    def __init__(self, rules: FirmRules) -> None:
        self.rules = rules
        self.day = None
        self.reference = INITIAL
        self.peak_equity = INITIAL
        self.eod_peak = INITIAL
        self.day_high = INITIAL
        self.day_start = INITIAL  # the balance the firm day began with: a scaling plan's step

    def lots_cap(self) -> Decimal:
        """The lots the account may hold together today: ``max_lots_total``, raised by each step of a scaling
        plan whose profit the day began above (0: no cap)."""
        size = self.rules.size
        cap = size.max_lots_total
        for pct, lots in size.scaling:
            cap = lots if self.day_start > INITIAL + INITIAL * pct / 100 else cap
        return cap

    def observe(self, ts: int, balance: Decimal, equity: Decimal) -> None:
        day = self.rules.trading_day(ts)
        if day != self.day:
            if self.day is not None:
                high = max(self.day_high, balance)
                self.eod_peak = max(self.eod_peak, high if self.rules.max_loss_kind is MaxLossKind.TRAILING_DAY_HIGH
                                    else balance)
            self.day = day
            self.day_high = self.day_start = balance
            by_balance = self.rules.daily_reference is DailyReference.BALANCE
            self.reference = balance if by_balance else max(balance, equity)
        self.peak_equity = max(self.peak_equity, equity)
        self.day_high = max(self.day_high, balance)

    def daily_floor(self) -> Decimal | None:
        pct = self.rules.daily_loss_pct
        if pct is None:
            return None
        base = INITIAL if self.rules.daily_loss_of is PercentOf.INITIAL else self.reference
        return self.reference - base * pct / 100

    def next_daily_floor(self, balance: Decimal) -> Decimal | None:
        """The daily floor the next reset sets if every open position is then at a loss (the reference
        is the balance)."""
        pct = self.rules.daily_loss_pct
        if pct is None:
            return None
        base = INITIAL if self.rules.daily_loss_of is PercentOf.INITIAL else balance
        return balance - base * pct / 100

    def floor(self) -> Decimal:
        limit = INITIAL * self.rules.max_loss_pct / 100
        kind = self.rules.max_loss_kind
        if kind is MaxLossKind.STATIC:
            return INITIAL - limit
        peak = self.peak_equity if kind is MaxLossKind.TRAILING else self.eod_peak
        return min(peak - limit, INITIAL) if self.rules.lock_at_initial else max(peak, INITIAL) - limit

    def inside(self, equity: Decimal, floor: Decimal | None) -> bool:
        """Is this equity clear of the floor, compared the way the firm words it?"""
        if floor is None:
            return True
        return equity > floor if self.rules.breach is Breach.AT_OR_BELOW else equity >= floor


def worst_case_equity(ledger: AccountLedger, new: Order, prices: dict[str, Decimal], rates: ConversionRates,
                      ts: int) -> Decimal:
    """Book the new order at its worst entry, then close everything at its worst exit."""
    book = copy.deepcopy(ledger)
    inst = REG[new.symbol]
    entry = new.reference_price + int(new.side) * new.max_slippage_points * inst.point
    book.apply(Fill(new.client_order_id, "acc", new.symbol, new.side, new.lots, entry, ts, FillKind.OPEN,
                    CloseReason.ENTRY), rates, new.stop_loss)
    for pos in list(book.positions.values()):
        pi = REG[pos.symbol]
        slipped = pos.stop_loss - int(pos.side) * COSTS.slippage_pips * pi.pip_size
        now = prices[pos.symbol]
        exit_price = min(slipped, now) if pos.side is Side.BUY else max(slipped, now)
        book.apply(Fill(pos.position_id, "acc", pos.symbol, pos.side.opposite, pos.lots, exit_price, ts,
                        FillKind.CLOSE, CloseReason.STOP_LOSS), rates)
    return book.balance


def no_allowed_order_breaks_a_hard_rule(rules: FirmRules, examples: int) -> int:
    """Run random quotes and orders through ``rules``; every order the check allows must keep the
    worst case inside the oracle's floors. Returns how many orders were allowed."""
    allowed: list[int] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(steps)
    def run(seq: list[tuple]) -> None:  # type: ignore[type-arg]
        acc = AccountRules(rules, COSTS, REG, NEWS)  # a firm with a news rule needs a calendar for the dates
        oracle = Oracle(rules)
        ledger = AccountLedger("acc", "USD", INITIAL, REG, COSTS.commission_per_lot)
        prices = {"EURUSD": Decimal("1.10000"), "USDJPY": Decimal("150.000")}
        rates = ConversionRates(REG)
        ts = START
        n = 0

        def observe() -> None:
            for s, p in prices.items():
                rates.update(s, p)
            snap = ledger.snapshot(ts, {s: (p, p) for s, p in prices.items()}, rates)
            oracle.observe(ts, snap.balance, snap.equity)
            acc.observe(snap, rates)

        observe()
        for step in seq:
            if step[0] == "tick":
                _, d_eur, d_jpy, minutes = step
                ts += minutes * 60 * NS_PER_S
                prices["EURUSD"] = max(prices["EURUSD"] + d_eur * Decimal("0.00010"), Decimal("0.5"))
                prices["USDJPY"] = max(prices["USDJPY"] + d_jpy * Decimal("0.010"), Decimal("50"))
                for s, p in prices.items():
                    rates.update(s, p)
                for pos in list(ledger.positions.values()):  # stops and targets trigger at the (possibly gapped) price
                    now = prices[pos.symbol]
                    if (now - pos.stop_loss) * int(pos.side) <= 0:
                        ledger.apply(Fill(pos.position_id, "acc", pos.symbol, pos.side.opposite, pos.lots, now, ts,
                                          FillKind.CLOSE, CloseReason.STOP_LOSS), rates)
                    elif pos.take_profit is not None and (now - pos.take_profit) * int(pos.side) >= 0:
                        ledger.apply(Fill(pos.position_id, "acc", pos.symbol, pos.side.opposite, pos.lots, now, ts,
                                          FillKind.CLOSE, CloseReason.TAKE_PROFIT), rates)
                observe()
                continue
            _, side, centilots, stop_pips, slip, symbol = step
            inst = REG[symbol]
            ref = prices[symbol]
            stop = inst.price(ref - int(side) * stop_pips * inst.pip_size)
            n += 1
            target = inst.price(ref + int(side) * stop_pips * inst.pip_size)  # the best-day guard wants one
            o = Order(f"o{n}", "acc", symbol, side, Decimal(centilots) / 100, OrderType.MARKET, stop, target, "s",
                      ref, slip, ts, ts + 60 * NS_PER_S)
            snap = ledger.snapshot(ts, {s: (p, p) for s, p in prices.items()}, rates)
            decision = acc.check([o], snap, rates)
            if not decision.allowed:
                continue
            allowed.append(1)
            held = sum((pos.lots for pos in ledger.positions.values()), Decimal(0))
            assert not oracle.lots_cap() or held + o.lots <= oracle.lots_cap(), (rules.name, "lots", held, o.lots)
            if rules.size.max_open_risk_pct:  # each position's and the new order's loss at its worst exit, added up
                legs = [(pos.symbol, pos.side, pos.lots, pos.entry, pos.stop_loss, prices[pos.symbol])
                        for pos in ledger.positions.values()]  # at the worse of its stop and the price now
                legs.append((symbol, side, o.lots, ref + int(side) * slip * inst.point, stop, None))  # from its worst entry
                risk = Decimal(0)
                for sym, way, lots, entry, leg_stop, now in legs:
                    exit_price = leg_stop - int(way) * COSTS.slippage_pips * REG[sym].pip_size
                    if now is not None:
                        exit_price = min(exit_price, now) if way is Side.BUY else max(exit_price, now)
                    risk += max(Decimal(0), -pnl_in_account_ccy(REG[sym], way, lots, entry, exit_price, "USD", rates))
                assert risk <= INITIAL * rules.size.max_open_risk_pct / 100, (rules.name, "open risk", risk)
            worst = worst_case_equity(ledger, o, prices, rates, ts)
            assert oracle.inside(worst, oracle.daily_floor()), (rules.name, "daily loss", oracle.reference, worst)
            assert oracle.inside(worst, oracle.floor()), (rules.name, "max loss", oracle.floor(), worst)
            # held into the next reset at their stops, the open positions must clear the floor it sets (where
            # a holding rule closes every position before it, none is open then)
            nxt = oracle.next_daily_floor(snap.balance)
            flat_by, _ = rules.flat_deadline_ns(ts)
            if not (flat_by and flat_by <= rules.next_reset_ns(ts)):
                assert oracle.inside(worst, nxt), (rules.name, "daily loss at the next reset", nxt, worst)
            ledger.apply(Fill(o.client_order_id, "acc", symbol, side, o.lots, ref, ts, FillKind.OPEN,
                              CloseReason.ENTRY), rates, stop, target)
            observe()

    run()
    return len(allowed)


@pytest.mark.parametrize("preset", preset_names())
def test_no_allowed_order_can_break_a_hard_rule_in_its_worst_case(preset: str) -> None:
    allowed = no_allowed_order_breaks_a_hard_rule(load_preset(preset), 300)
    assert allowed > 150, f"only {allowed} orders allowed: the property was hardly exercised"


@pytest.mark.parametrize("breach", list(Breach))
@pytest.mark.parametrize("kind", list(MaxLossKind))
def test_no_allowed_order_breaks_a_hard_rule_under_any_combination_of_the_rule_fields(kind: MaxLossKind,
                                                                                     breach: Breach) -> None:
    zones = [("Europe/Prague", time(0, 0)), ("America/New_York", time(17, 0)), ("America/Chicago", time(17, 0))]
    combos = itertools.product([None, Decimal(3)], list(PercentOf), list(DailyReference), [True, False])
    allowed = 0
    for i, (daily, of, reference, lock) in enumerate(combos):
        zone, at = zones[i % len(zones)]
        rules = FirmRules(f"{kind}-{breach}-{i}", daily, Decimal(6), lock, daily_loss_of=of, daily_reference=reference,
                          breach=breach, max_loss_kind=kind, reset_timezone=zone, reset_time=at)
        allowed += no_allowed_order_breaks_a_hard_rule(rules, 30)
    assert allowed > 50, f"only {allowed} orders allowed over 16 rule sets: the property was hardly exercised"
