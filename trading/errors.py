"""Typed domain errors: an invalid value fails at the edge, with the field named."""

from __future__ import annotations

from decimal import Decimal


class DomainError(Exception):
    """Base of every error raised by the trading domain."""


class InvalidValue(DomainError, ValueError):
    """A value that cannot exist: a NaN price, a crossed quote, a negative volume."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if isinstance(value, Decimal):  # 0.0001, not Decimal('0.0001'); 1E-5000000 as that, not 5 MB of zeros
            shown = format(value, "f") if value.is_finite() and -30 < value.adjusted() < 30 else str(value)
        super().__init__(f"{field}={shown}: {reason}")


class UnknownInstrument(DomainError, KeyError):
    """An instrument symbol that the configuration does not define."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        super().__init__(f"unknown instrument {symbol!r}")

    def __str__(self) -> str:
        return f"unknown instrument {self.symbol!r}"
