"""Currency conversion from the latest quotes, for P&L in an account's currency."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.errors import DomainError
from trading.instruments import Instrument


class ConversionRates:
    """Converts an amount between currencies through the instruments' latest mid prices: directly
    when one instrument links them, else along the shortest chain of instruments (JPY to EUR
    through USDJPY and EURUSD), each step exact in Decimal."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._mid: dict[str, Decimal] = {}
        self._routes: dict[tuple[str, str], tuple[tuple[str, bool], ...]] = {}

    def update(self, symbol: str, mid: Decimal) -> None:
        self._mid[symbol] = mid

    def has(self, symbol: str) -> bool:
        return symbol in self._mid

    def route(self, from_ccy: str, to_ccy: str) -> tuple[tuple[str, bool], ...]:
        """The instruments that convert ``from_ccy`` to ``to_ccy``, each with whether its price is
        divided by (True) rather than multiplied; the shortest chain, found once and kept. Raises
        ``DomainError`` when no chain of the configured instruments links them."""
        key = (from_ccy, to_ccy)
        if key not in self._routes:
            self._routes[key] = _shortest_route(self._instruments, from_ccy, to_ccy)
        return self._routes[key]

    def rate(self, from_ccy: str, to_ccy: str) -> Decimal:
        """Units of ``to_ccy`` per unit of ``from_ccy``."""
        if from_ccy == to_ccy:
            return Decimal(1)
        rate = Decimal(1)
        for symbol, divide in self.route(from_ccy, to_ccy):
            mid = self._mid.get(symbol)
            if mid is None:
                raise DomainError(f"no quote of {symbol} yet to convert {from_ccy} to {to_ccy}")
            rate = rate / mid if divide else rate * mid
        return rate


def rates_from(instruments: Mapping[str, Instrument], mids: Mapping[str, Decimal]) -> ConversionRates:
    """Conversion rates at the given mid prices (by symbol)."""
    rates = ConversionRates(instruments)
    for symbol, mid in mids.items():
        rates.update(symbol, mid)
    return rates


def _shortest_route(instruments: Mapping[str, Instrument], from_ccy: str,
                    to_ccy: str) -> tuple[tuple[str, bool], ...]:
    """Breadth first over the currencies the instruments link: base -> quote multiplies by the
    price, quote -> base divides by it. Instruments are tried in their configured order."""
    paths: dict[str, tuple[tuple[str, bool], ...]] = {from_ccy: ()}
    frontier = [from_ccy]
    while frontier and to_ccy not in paths:
        nxt = []
        for ccy in frontier:
            for symbol, inst in instruments.items():
                for there, here, divide in ((inst.quote, inst.base, False), (inst.base, inst.quote, True)):
                    if here == ccy and there not in paths:
                        paths[there] = (*paths[ccy], (symbol, divide))
                        nxt.append(there)
        frontier = nxt
    if to_ccy not in paths:
        raise DomainError(f"no instrument or chain of instruments converts {from_ccy} to {to_ccy}")
    return paths[to_ccy]
