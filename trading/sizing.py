"""ARIA's sizing: lots = risk budget / value of the stop distance, the budget adapting to the
volatility regime, the signal's confidence, the account's drawdown and its remaining headroom."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from trading.fx import ConversionRates
from trading.instruments import Instrument
from trading.ledger import AccountSnapshot, ClosedTrade, pnl_in_account_ccy
from trading.money import book
from trading.orders import OrderIntent, Signal
from trading.pickling import compact


@dataclass(frozen=True, slots=True)
class RiskParameters:
    """ARIA's parameters for one account.

    risk_per_trade_pct: base risk per trade, percent of balance (default 0.5).
    min_confidence: signals below this are not traded (default 0.3).
    drawdown_cut_pct: drawdown (percent of initial) at which risk is halved (default 2.0); at
        twice this, risk is quartered.
    headroom_share: at most this share of the remaining daily headroom is risked (default 0.25).
    kelly_fraction, kelly_min_trades: fractional Kelly cap once the account has enough trades
        (``kelly_fraction`` 0: no cap). A cap of 0 (the account's own trades show no edge) vetoes
        every order under the rule ``kelly``; no new trade can then change the estimate, so the
        account takes no more trades in that session.
    pass_odds_risk: take the pass-odds monitor's best risk per trade (``Headroom.pass_risk_pct``)
        when it is below ``risk_per_trade_pct``, which stays the ceiling (default off).
    """

    risk_per_trade_pct: Decimal = Decimal("0.5")
    min_confidence: float = 0.3
    drawdown_cut_pct: Decimal = Decimal("2.0")
    headroom_share: Decimal = Decimal("0.25")
    kelly_fraction: Decimal = Decimal("0.25")
    kelly_min_trades: int = 20
    pass_odds_risk: bool = False


RESTORE_STEP = 0.25


@dataclass
class RiskState:
    """What ARIA remembers of an account: its peak equity and trade outcomes."""

    peak_equity: Decimal = Decimal(0)
    wins: int = 0
    losses: int = 0
    sum_win_r: float = 0.0
    sum_loss_r: float = 0.0
    atr_history: dict[str, list[float]] = field(default_factory=dict)
    dd_factor: float = 1.0  # the drawdown cut in force: falls at once, comes back a step per win

    def record(self, trade: ClosedTrade) -> None:
        r = trade.r_multiple
        if r > 0:
            self.wins += 1
            self.sum_win_r += r
            self.dd_factor = min(1.0, self.dd_factor + RESTORE_STEP)
        else:
            self.losses += 1
            self.sum_loss_r += -r

    @property
    def payoff(self) -> float:
        """The average win over the average loss, in R (with at least one of each)."""
        return (self.sum_win_r / self.wins) / (self.sum_loss_r / self.losses)


@compact
@dataclass(frozen=True, slots=True)
class SizingDecision:
    intent: OrderIntent | None
    reason: str
    inputs: tuple[tuple[str, float], ...]
    rule: str = "sizing"  # the rule a veto is recorded under


def kelly_cap(state: RiskState, params: RiskParameters) -> float | None:
    """Fractional Kelly from the account's own win rate and payoff; None until enough trades."""
    n = state.wins + state.losses
    if params.kelly_fraction == 0 or n < params.kelly_min_trades or state.wins == 0 or state.losses == 0:
        return None
    win_rate = state.wins / n
    kelly = win_rate - (1 - win_rate) / state.payoff
    return max(0.0, kelly * float(params.kelly_fraction))


def volatility_factor(state: RiskState, symbol: str, atr: float) -> float:
    """Scale down when the ATR is above its recent median (a high-volatility regime)."""
    history = state.atr_history.setdefault(symbol, [])
    history.append(atr)
    del history[:-50]
    median = sorted(history)[len(history) // 2]
    if atr <= 0 or median <= 0:
        return 1.0
    return max(0.5, min(1.0, median / atr))


def size_intent(
    signal: Signal, snap: AccountSnapshot, inst: Instrument, rates: ConversionRates,
    params: RiskParameters, state: RiskState, headroom: Decimal, pass_risk_pct: float | None = None,
    risk_factor: float = 1.0, lots_room: Decimal | None = None, risk_room: Decimal | None = None,
    slip_pips: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0)),
) -> SizingDecision:
    """Size one account's order for a signal, recording every input of the decision. ``headroom``
    is the loss the account can take before the nearest of its firm's floors; ``pass_risk_pct`` the
    pass-odds monitor's best risk per trade (taken below the configured risk when
    ``params.pass_odds_risk``); ``risk_factor`` the account breaker's reduction (1.0: none); ``lots_room`` and
    ``risk_room`` what the firm's size rules leave (``Headroom``; None: no such rule): the lots are cut to the
    first, and the budget, like the loss headroom, to ``headroom_share`` of the second. ``slip_pips``: the entry
    slippage the execution profile allows and the slippage the compliance check allows at the stop: the lots are
    also cut so that the order's loss at that worst case (``AccountRules._order_risk``'s) fits ``risk_room``, which
    an order sized on its stop alone can overrun several times on a tight stop."""
    if snap.equity > state.peak_equity:
        state.peak_equity = snap.equity
    vol = volatility_factor(state, signal.symbol, signal.atr)
    conf = 0.5 + 0.5 * signal.confidence
    drawdown_pct = float((state.peak_equity - snap.equity) / snap.initial_balance * 100)
    cut = float(params.drawdown_cut_pct)
    target = 1.0 if drawdown_pct < cut else (0.5 if drawdown_pct < 2 * cut else 0.25)
    # Cut risk as soon as the drawdown deepens; restore it only gradually, a step per winning
    # trade, never above what the current drawdown allows.
    state.dd_factor = min(state.dd_factor, target) if target < state.dd_factor else state.dd_factor
    dd_factor = state.dd_factor
    base_pct = float(params.risk_per_trade_pct) / 100
    steered = params.pass_odds_risk and pass_risk_pct is not None and pass_risk_pct / 100 < base_pct
    if steered:
        base_pct = pass_risk_pct / 100  # type: ignore[operator]
    kelly = kelly_cap(state, params)
    risk_pct = min(base_pct, kelly) if kelly is not None else base_pct
    budget = Decimal(repr(risk_pct * vol * conf * dd_factor * risk_factor)) * snap.balance
    headroom_cap = max(headroom, Decimal(0)) * params.headroom_share
    budget = min(budget, headroom_cap)
    room_binds = risk_room is not None and risk_room * params.headroom_share < budget
    if risk_room is not None:
        budget = min(budget, risk_room * params.headroom_share)
    one_lot_loss = -pnl_in_account_ccy(inst, signal.side, Decimal(1), signal.entry, signal.stop, snap.currency, rates)
    inputs = (
        ("volatility_factor", vol), ("confidence_factor", conf), ("drawdown_pct", drawdown_pct),
        ("drawdown_factor", dd_factor), ("kelly_cap", kelly if kelly is not None else -1.0),
        ("risk_pct", risk_pct), ("budget", float(budget)), ("headroom_cap", float(headroom_cap)),
        ("stop_value_per_lot", float(one_lot_loss)),
    ) + ((("pass_odds_risk_pct", float(pass_risk_pct)),) if steered and pass_risk_pct is not None else ()) \
      + ((("breaker_risk_factor", risk_factor),) if risk_factor != 1.0 else ()) \
      + ((("risk_room", float(risk_room)),) if risk_room is not None else ())
    if signal.confidence < params.min_confidence:
        return SizingDecision(None, f"confidence {signal.confidence:.2f} below {params.min_confidence}", inputs)
    if one_lot_loss <= 0:
        return SizingDecision(None, "stop distance has no value", inputs)
    if kelly == 0.0:
        return SizingDecision(None, f"fractional Kelly cap 0: this account's {state.wins + state.losses} trades "
                              f"({state.wins} won, the average win {state.payoff:.2f}x the average loss) show no "
                              "edge, and it takes no more trades (risk.kelly_fraction 0 lifts the cap)", inputs, "kelly")
    lots = inst.round_lots(budget / one_lot_loss)
    if lots_room is not None and lots > lots_room:
        lots = inst.round_lots(lots_room)
        inputs += (("lots_room", float(lots_room)),)
        if lots < inst.min_lot:
            return SizingDecision(None, f"the firm's cap on the lots held together leaves {lots_room}, less than "
                                  f"{inst.min_lot}", inputs, "lots_cap")
    if risk_room is not None:  # the open-risk cap counts the order from its entry with slippage to its stop with slippage
        side, (entry_pips, stop_pips) = int(signal.side), slip_pips
        worst = -pnl_in_account_ccy(inst, signal.side, Decimal(1),  # as the order carries it: whole points
                                    signal.entry + side * int(entry_pips * inst.points_per_pip) * inst.point,
                                    signal.stop - side * stop_pips * inst.pip_size, snap.currency, rates)
        # a cent off the room: it is rounded to cents, and the check adds up the unrounded losses
        fits = inst.round_lots(max(risk_room - Decimal("0.01"), Decimal(0)) / worst) if worst > 0 else lots
        if fits < lots:
            lots, room_binds = fits, True
            inputs += (("open_risk_lots", float(fits)), ("worst_loss_per_lot", float(worst)))
    if lots < inst.min_lot and room_binds and risk_room is not None:
        return SizingDecision(None, f"the firm's cap on the loss at the open stops leaves {book(risk_room)}: a share of "
                              f"it ({book(budget)}), or the room at the stop with slippage ({entry_pips} + {stop_pips} pips), buys "
                              f"less than {inst.min_lot} lots", inputs, "open_risk")
    if lots < inst.min_lot:
        return SizingDecision(None, f"risk budget {book(budget)} buys less than {inst.min_lot} lots", inputs)
    risk = book(one_lot_loss * lots)
    return SizingDecision(OrderIntent(signal, snap.account_id, lots, signal.stop, risk, inputs), "sized", inputs)
