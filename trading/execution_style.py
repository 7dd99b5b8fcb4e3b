"""Execution style: how an account's order is worked (type, timing window, take-profit ladder).

Variance is bounded and seeded from the signal and the account, so it is reproducible and
recorded in the audit trail; it only ever reduces size, never adds risk.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import Decimal

from trading.errors import InvalidValue
from trading.instruments import Instrument
from trading.orders import Order, OrderIntent, OrderType, client_order_id


@dataclass(frozen=True, slots=True)
class ExecutionProfile:
    """An account's way of working orders.

    order_type: market or limit (limit at the signal's entry).
    delay_seconds: (min, max) window after the signal in which the order becomes active.
    expiry_seconds: an unfilled order expires this long after it becomes active.
    take_profit_ladder: (share of size, target index) per leg; shares sum to 1.
    size_variance_pct: the size is reduced by a seeded share in [0, this] percent.
    max_slippage_pips: an entry worse than the reference by more than this is rejected.
    """

    name: str = "default"
    order_type: OrderType = OrderType.MARKET
    delay_seconds: tuple[float, float] = (0.0, 0.0)
    expiry_seconds: float = 120.0
    take_profit_ladder: tuple[tuple[Decimal, int], ...] = ((Decimal(1), 0),)
    size_variance_pct: Decimal = Decimal(0)
    max_slippage_pips: Decimal = Decimal("1.5")

    def __post_init__(self) -> None:
        total = sum((share for share, _ in self.take_profit_ladder), Decimal(0))
        if total != 1:
            raise InvalidValue(f"{self.name}.take_profit_ladder", total, "shares must sum to 1")
        lo, hi = self.delay_seconds
        if not 0 <= lo <= hi:
            raise InvalidValue(f"{self.name}.delay_seconds", self.delay_seconds, "must be 0 <= min <= max")
        if not 0 <= self.size_variance_pct < 50:
            raise InvalidValue(f"{self.name}.size_variance_pct", self.size_variance_pct, "must be in [0, 50)")


def style_seed(signal_id: str, account_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{signal_id}|{account_id}".encode()).digest()[:8], "big")


def apply_profile(intent: OrderIntent, profile: ExecutionProfile, inst: Instrument) -> list[Order]:
    """Turn a sized intent into the order legs that the venue will receive."""
    signal = intent.signal
    seed = style_seed(signal.signal_id, intent.account_id)
    rng = random.Random(seed)
    lo, hi = profile.delay_seconds
    delay_ns = int(rng.uniform(lo, hi) * 1e9)
    cut = Decimal(repr(rng.uniform(0, float(profile.size_variance_pct)))) / 100
    total = inst.round_lots(intent.lots * (1 - cut))
    if total < inst.min_lot:
        return []
    legs: list[tuple[Decimal, int]] = []
    remaining = total
    for i, (share, target_index) in enumerate(profile.take_profit_ladder):
        last = i == len(profile.take_profit_ladder) - 1
        lots = remaining if last else min(inst.round_lots(total * share), remaining)
        if lots >= inst.min_lot:
            legs.append((lots, target_index))
            remaining -= lots
        if remaining < inst.min_lot:
            break
    if remaining > 0 and legs:  # a leg too small to exist joins the previous one
        legs[-1] = (legs[-1][0] + remaining, legs[-1][1])
    not_before = signal.ts_ns + delay_ns
    expires = not_before + int(profile.expiry_seconds * 1e9)
    orders = []
    for leg, (lots, target_index) in enumerate(legs):
        target = signal.targets[min(target_index, len(signal.targets) - 1)] if signal.targets else None
        orders.append(Order(
            client_order_id(signal.signal_id, intent.account_id, leg), intent.account_id, signal.symbol,
            signal.side, lots, profile.order_type, intent.stop, target, signal.signal_id, signal.entry,
            int(profile.max_slippage_pips * inst.points_per_pip), not_before, expires,
            limit_price=signal.entry if profile.order_type is OrderType.LIMIT else None,
            profile=profile.name, seed=seed, leg=leg,
        ))
    return orders
