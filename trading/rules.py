"""Firm rule sets as typed data, and the day arithmetic they depend on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from trading.errors import InvalidValue
from trading.market import NS_PER_S, ts_to_datetime


class DailyLossBasis(StrEnum):
    """What the day's loss is measured from at the firm's reset time."""

    BALANCE = "balance"
    MAX_BALANCE_EQUITY = "max_balance_equity"


class MaxLossKind(StrEnum):
    STATIC = "static"
    TRAILING = "trailing"


@dataclass(frozen=True, slots=True)
class FirmRules:
    """One firm's hard rules for one account phase.

    daily_loss_pct: the day's loss limit, in percent of the initial balance.
    daily_loss_basis: the day's reference, taken at the reset time.
    max_loss_pct: the overall loss limit in percent of the initial balance.
    max_loss_kind: static (floor = initial - limit) or trailing (floor follows the equity peak,
        locking at the initial balance).
    reset_timezone, reset_time: when the trading day starts (e.g. Europe/Prague 00:00, DST-aware).
    max_lots_per_order, max_open_positions: size limits; 0 means none.
    profit_target_pct: the phase's target (informational for the desk; never a reason to risk more).
    """

    name: str
    daily_loss_pct: Decimal
    max_loss_pct: Decimal
    daily_loss_basis: DailyLossBasis = DailyLossBasis.BALANCE
    max_loss_kind: MaxLossKind = MaxLossKind.STATIC
    reset_timezone: str = "Europe/Prague"
    reset_time: time = time(0, 0)
    max_lots_per_order: Decimal = Decimal(0)
    max_open_positions: int = 0
    profit_target_pct: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("daily_loss_pct", "max_loss_pct"):
            value = getattr(self, name)
            if not Decimal(0) < value < Decimal(100):
                raise InvalidValue(f"{self.name}.{name}", value, "must be a percentage between 0 and 100")
        try:
            ZoneInfo(self.reset_timezone)
        except Exception as exc:
            raise InvalidValue(f"{self.name}.reset_timezone", self.reset_timezone, "unknown time zone") from exc

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
