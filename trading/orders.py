"""Signals, order intents, orders, fills and execution reports, with deterministic ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

from trading.errors import InvalidValue
from trading.pickling import compact


class Side(IntEnum):
    """Direction of a trade; the value is the sign of its P&L per unit of price rise."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@compact
@dataclass(frozen=True, slots=True)
class Evidence:
    """One observed fact behind a signal: the event, the bar it happened on and its numbers."""

    event: str
    bar_ts_ns: int
    numbers: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.event, "bar_ts_ns": self.bar_ts_ns, **dict(self.numbers)}


@compact
@dataclass(frozen=True, slots=True)
class Signal:
    """A trade idea from market analysis: side, entry, protective stop, targets and why."""

    symbol: str
    side: Side
    ts_ns: int
    entry: Decimal
    stop: Decimal
    targets: tuple[Decimal, ...]
    confidence: float
    setup: str
    evidence: tuple[Evidence, ...] = ()
    atr: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise InvalidValue("confidence", self.confidence, "must be within [0, 1]")
        if self.side is Side.BUY and not self.stop < self.entry:
            raise InvalidValue("stop", self.stop, f"a buy's stop must be below entry {self.entry}")
        if self.side is Side.SELL and not self.stop > self.entry:
            raise InvalidValue("stop", self.stop, f"a sell's stop must be above entry {self.entry}")
        for target in self.targets:
            if (target - self.entry) * self.side <= 0:
                raise InvalidValue("targets", target, "a target must lie on the profit side of entry")

    @property
    def signal_id(self) -> str:
        """Deterministic: the same market data always yields the same id."""
        return f"{self.symbol}-{self.ts_ns}-{self.setup}-{self.side.name.lower()}"

    @property
    def stop_distance(self) -> Decimal:
        return abs(self.entry - self.stop)


def client_order_id(signal_id: str, account_id: str, leg: int) -> str:
    """The client order id of one leg of one account's order for a signal.

    Derived, never random: a replay or a restart computes the same id, and the venue accepts
    an id once, so an order can never be placed twice.
    """
    digest = hashlib.sha256(f"{signal_id}|{account_id}|{leg}".encode()).hexdigest()[:20]
    return f"oc-{digest}"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


@compact
@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An account's sized intention to trade a signal, before style and compliance."""

    signal: Signal
    account_id: str
    lots: Decimal
    stop: Decimal
    risk_amount: Decimal
    sizing_inputs: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.lots <= 0:
            raise InvalidValue("lots", self.lots, "must be positive")


@compact
@dataclass(frozen=True, slots=True)
class Order:
    """One order leg as sent to a venue."""

    client_order_id: str
    account_id: str
    symbol: str
    side: Side
    lots: Decimal
    order_type: OrderType
    stop_loss: Decimal
    take_profit: Decimal | None
    signal_id: str
    reference_price: Decimal
    max_slippage_points: int
    not_before_ns: int
    expires_ns: int
    limit_price: Decimal | None = None
    profile: str = "default"
    seed: int = 0
    leg: int = 0
    min_hold_ns: int = 0  # the firm's minimum hold: the take-profit waits this long, the stop never

    def __post_init__(self) -> None:
        if self.lots <= 0:
            raise InvalidValue("lots", self.lots, "must be positive")
        if (self.reference_price - self.stop_loss) * self.side <= 0:
            raise InvalidValue("stop_loss", self.stop_loss, "must lie on the loss side of the reference price")
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise InvalidValue("limit_price", None, "a limit order needs a limit price")
        if self.expires_ns <= self.not_before_ns:
            raise InvalidValue("expires_ns", self.expires_ns, "must be after not_before_ns")


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def placed(self) -> bool:
        """Did the venue take the order (working, part filled or filled)?"""
        return self in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)

    @property
    def final(self) -> bool:
        """After this no fill of the order can come (except the close of the position it opened)."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


class FillKind(StrEnum):
    OPEN = "open"
    CLOSE = "close"


class CloseReason(StrEnum):
    ENTRY = "entry"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    FLATTEN = "flatten"
    TIME_EXIT = "time_exit"


@compact
@dataclass(frozen=True, slots=True)
class Fill:
    """An execution at a price, opening or closing (part of) a position."""

    client_order_id: str
    account_id: str
    symbol: str
    side: Side
    lots: Decimal
    price: Decimal
    ts_ns: int
    kind: FillKind
    reason: CloseReason
    commission: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)


@compact
@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """A state transition of an order at the venue."""

    client_order_id: str
    account_id: str
    status: OrderStatus
    ts_ns: int
    reason: str = ""
    fill: Fill | None = None


@compact
@dataclass(slots=True)
class Position:
    """An open position; its id is the client order id that opened it."""

    position_id: str
    account_id: str
    symbol: str
    side: Side
    lots: Decimal
    entry: Decimal
    stop_loss: Decimal
    take_profit: Decimal | None
    opened_ns: int
    signal_id: str
    extra: dict[str, Any] = field(default_factory=dict)
