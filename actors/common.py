"""Small helpers shared by the agents."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.fx import ConversionRates
from trading.instruments import InstrumentRegistry


def rates_from(registry: InstrumentRegistry, mids: Mapping[str, Decimal]) -> ConversionRates:
    rates = ConversionRates(registry)
    for symbol, mid in mids.items():
        rates.update(symbol, mid)
    return rates
