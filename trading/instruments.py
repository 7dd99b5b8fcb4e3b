"""Instruments: what a symbol is, how its prices are written and what one lot is worth."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from trading.errors import InvalidValue, UnknownInstrument
from trading.money import to_decimal


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable FX pair or CFD.

    Parameters
    ----------
    symbol: e.g. ``EURUSD``.
    base, quote: ISO currencies; a price is quote currency per unit of base.
    price_precision: decimals of a quoted price (5 for EURUSD, 3 for USDJPY).
    pip_size: the conventional pip (0.0001 for EURUSD, 0.01 for USDJPY).
    contract_size: units of base in one lot (100,000 for FX).
    lot_step, min_lot, max_lot: order size grid in lots.
    """

    symbol: str
    base: str
    quote: str
    price_precision: int
    pip_size: Decimal
    contract_size: int = 100_000
    lot_step: Decimal = Decimal("0.01")
    min_lot: Decimal = Decimal("0.01")
    max_lot: Decimal = Decimal("100")

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.isalnum():
            raise InvalidValue("symbol", self.symbol, "must be alphanumeric")
        if not 0 <= self.price_precision <= 8:
            raise InvalidValue("price_precision", self.price_precision, "must be between 0 and 8")
        pip = to_decimal(self.pip_size, "pip_size")
        if pip <= 0:
            raise InvalidValue("pip_size", self.pip_size, "must be positive")
        object.__setattr__(self, "pip_size", pip)
        points = pip.scaleb(self.price_precision)  # the pip in points (no division: any size of pip is read)
        # finer than a quote's last digit (every distance in pips 0; compared first: scaleb rounds a tiny pip to 0),
        # or off its grid
        if pip < self.point or points != points.to_integral_value():
            raise InvalidValue("pip_size", self.pip_size,
                               f"must be a whole number of points ({self.point:f} at price_precision "
                               f"{self.price_precision})")
        if self.contract_size <= 0:
            raise InvalidValue("contract_size", self.contract_size, "must be positive")

    @property
    def point(self) -> Decimal:
        """The smallest price increment."""
        return Decimal(1).scaleb(-self.price_precision)

    @property
    def points_per_pip(self) -> int:
        return int(self.pip_size / self.point)

    def price(self, value: Decimal | int | str | float) -> Decimal:
        """A price rounded to this instrument's precision."""
        return to_decimal(value, f"{self.symbol}.price").quantize(self.point, rounding=ROUND_HALF_EVEN)

    def price_from_points(self, points: int) -> Decimal:
        """Integer points (price x 10^precision) as a Decimal price."""
        return Decimal(int(points)).scaleb(-self.price_precision)

    def points(self, price: Decimal) -> int:
        """A Decimal price as integer points."""
        return int(self.price(price).scaleb(self.price_precision))

    def round_lots(self, lots: Decimal) -> Decimal:
        """Round a size down to the lot grid (never up: rounding must not add risk)."""
        steps = (lots / self.lot_step).to_integral_value(rounding="ROUND_FLOOR")
        return min(steps * self.lot_step, self.max_lot)


class InstrumentRegistry(Mapping[str, Instrument]):
    """Instruments by symbol, with a stable integer index used in columnar tick batches."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.symbol in self._by_symbol:
                raise InvalidValue("instruments", inst.symbol, "defined twice")
            self._by_symbol[inst.symbol] = inst
        self._symbols = list(self._by_symbol)

    def __getitem__(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise UnknownInstrument(symbol) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    def index(self, symbol: str) -> int:
        if symbol not in self._by_symbol:
            raise UnknownInstrument(symbol)
        return self._symbols.index(symbol)

    def by_index(self, idx: int) -> Instrument:
        return self._by_symbol[self._symbols[idx]]

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)
