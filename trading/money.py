"""Exact money: a Decimal amount with its currency, booked to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from trading.errors import InvalidValue

CENT = Decimal("0.01")


def to_decimal(value: Decimal | int | str | float, field: str = "amount") -> Decimal:
    """Convert to Decimal, rejecting NaN and infinities. Floats go through repr to stay exact."""
    try:
        result = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    except Exception as exc:  # decimal.InvalidOperation and friends
        raise InvalidValue(field, value, "not a number") from exc
    if not result.is_finite():
        raise InvalidValue(field, value, "must be finite")
    return result


def plain_numbers(value: Any) -> Any:
    """``value`` with every Decimal in it written as plain text, the same however it was written (100000, not 1E+5
    nor 100000.00; 0.00000001, not 1E-8), through dicts, lists and tuples (as lists) and sets (sorted, as lists)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_numbers(v) for v in (sorted(value) if isinstance(value, set | frozenset) else value)]
    return value


def book(amount: Decimal) -> Decimal:
    """Round an amount to the cent, banker's rounding, as a ledger books it."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        if len(self.currency) != 3 or not self.currency.isupper():
            raise InvalidValue("currency", self.currency, "must be a three-letter ISO code")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidValue("currency", other.currency, f"cannot combine with {self.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def booked(self) -> Money:
        return Money(book(self.amount), self.currency)

    def __str__(self) -> str:
        return f"{book(self.amount):,.2f} {self.currency}"
