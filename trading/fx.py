"""Currency conversion from the latest quotes, for P&L in an account's currency."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.errors import DomainError
from trading.instruments import Instrument


class ConversionRates:
    """Converts an amount between currencies through the instruments' latest mid prices."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._mid: dict[str, Decimal] = {}

    def update(self, symbol: str, mid: Decimal) -> None:
        self._mid[symbol] = mid

    def has(self, symbol: str) -> bool:
        return symbol in self._mid

    def rate(self, from_ccy: str, to_ccy: str) -> Decimal:
        """Units of ``to_ccy`` per unit of ``from_ccy``."""
        if from_ccy == to_ccy:
            return Decimal(1)
        for symbol, inst in self._instruments.items():
            mid = self._mid.get(symbol)
            if mid is None:
                continue
            if inst.base == from_ccy and inst.quote == to_ccy:
                return mid
            if inst.base == to_ccy and inst.quote == from_ccy:
                return Decimal(1) / mid
        raise DomainError(f"no quote to convert {from_ccy} to {to_ccy}")
