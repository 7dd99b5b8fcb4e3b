"""The one interface through which orders reach a venue.

The spine's paper venue implements it in-process; the gRPC client of rust_exec implements it
next. Callers never know which one they hold.
"""

from __future__ import annotations

from typing import Protocol

from trading.market import TickBatch
from trading.orders import ExecutionReport, Order


class ExecutionClient(Protocol):
    """Submit, cancel and flatten orders; push quotes; halt and resume.

    ``submit`` is idempotent on the client order id: a second submit of the same id returns
    the first report and never creates a second order.
    """

    def submit(self, order: Order) -> ExecutionReport: ...

    def cancel(self, client_order_id: str, ts_ns: int) -> ExecutionReport: ...

    def on_quotes(self, quotes: TickBatch) -> list[ExecutionReport]:
        """Push quotes (time-ordered); returns fills, expiries and stop/take-profit closes."""
        ...

    def flatten(self, account_id: str | None, ts_ns: int, reason: str) -> list[ExecutionReport]:
        """Close every open position (of one account, or all) at the latest quote."""
        ...

    def halt(self, reason: str) -> None:
        """Reject every new order until ``resume``."""
        ...

    def resume(self) -> None: ...

    @property
    def halted(self) -> bool: ...


def connect(venue: str, registry: object) -> ExecutionClient:
    """Build the client for ``runtime.venue``."""
    if venue == "paper":
        from cluster.venues.paper.venue import PaperVenue
        from trading.instruments import InstrumentRegistry

        assert isinstance(registry, InstrumentRegistry)
        return PaperVenue(registry)
    raise ValueError(f"unknown venue {venue!r}")
