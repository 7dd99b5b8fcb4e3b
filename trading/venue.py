"""The one interface through which orders reach a venue (a port, in the domain's terms).

rust_exec's gRPC client (``cluster/adapters/rust_exec/client.py``) implements it; a live broker
adapter would implement it too. The execution agent is handed a way to connect one and never knows
which it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from trading.market import TickBatch
from trading.orders import ExecutionReport, Order


class VenuePosition(Protocol):
    """An open position as the venue holds it (what reconciliation compares with the books)."""

    @property
    def position_id(self) -> str: ...  # the client order id that opened it

    @property
    def account_id(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    @property
    def side(self) -> int: ...  # 1: long; anything else: short

    @property
    def quantity(self) -> int: ...  # units of the base currency

    @property
    def entry_price(self) -> int: ...  # points (the instrument's price x 10^precision)

    @property
    def stop_loss(self) -> int: ...  # points; 0: none

    @property
    def take_profit(self) -> int: ...  # points; 0: none

    @property
    def opened_ns(self) -> int: ...


class ExecutionClient(Protocol):
    """Submit, cancel and flatten orders; push quotes; halt and resume.

    ``submit`` is idempotent on the client order id: a second submit of the same id returns
    the first report and never creates a second order.
    """

    def submit(self, order: Order) -> ExecutionReport: ...

    def submit_all(self, order: Order) -> list[ExecutionReport]:
        """Submit; the order's report preceded by any reports others caused since the last call."""
        ...

    def cancel(self, client_order_id: str, ts_ns: int) -> ExecutionReport: ...

    def on_quotes(self, quotes: TickBatch) -> list[ExecutionReport]:
        """Push quotes (time-ordered); returns fills, expiries and stop/take-profit closes."""
        ...

    def flatten(self, account_id: str | None, ts_ns: int, reason: str, position_id: str = "",
                at_next_quote: bool = False) -> list[ExecutionReport]:
        """Close every open position (of one account, or all) at the latest quote, and cancel the
        working orders; with ``position_id`` only that position (or working order). With
        ``at_next_quote`` each closes at the next quote of its instrument instead (a market close
        sent now), and nothing is reported until then."""
        ...

    def halt(self, reason: str, *, account_id: str = "", cancel_working: bool = False, flatten: bool = False,
             ts_ns: int = 0) -> list[ExecutionReport]:
        """Reject every new order (of one account, or all) until ``resume``; optionally cancel
        working orders and flatten. Returns the reports of what it cancelled and closed."""
        ...

    def resume(self, account_id: str = "") -> None: ...

    @property
    def halted(self) -> bool: ...

    def missed_reports(self) -> list[ExecutionReport]:
        """What other clients of the venue caused since this client's last call (an operator's
        flatten), each report once."""
        ...

    def positions(self, account_id: str = "") -> Sequence[VenuePosition]:
        """The venue's open positions (of one account, or all)."""
        ...

    @property
    def venue_halted(self) -> bool:
        """Whether the venue said it was halted in its latest reply (no call of its own)."""
        ...
