"""The gRPC ``ExecutionClient`` of rust_exec: the desk's only way to the venue.

Prices travel as integer points and sizes as integer units of base currency (see
``proto/octet/exec/v1/exec.proto``). Every call is safe to repeat: submits are idempotent on the
client order id, quote batches on their sequence number and flattens on their request id. So a
call that fails because rust_exec is restarting is simply retried until it answers, and an actor
restarted from its last snapshot re-sends its last call and gets the first answer back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

import grpc

from cluster.adapters.rust_exec import inprocess
from cluster.adapters.rust_exec.pb import exec_pb2 as pb
from cluster.adapters.rust_exec.pb import exec_pb2_grpc
from cluster.config.secrets import ExecCredentials
from trading.instruments import InstrumentRegistry
from trading.market import TickBatch
from trading.orders import CloseReason, ExecutionReport, Fill, FillKind, Order, OrderStatus, OrderType, Side

T = TypeVar("T")

_STATUS = {
    pb.ORDER_STATUS_NEW: OrderStatus.NEW,
    pb.ORDER_STATUS_ACCEPTED: OrderStatus.ACCEPTED,
    pb.ORDER_STATUS_PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    pb.ORDER_STATUS_FILLED: OrderStatus.FILLED,
    pb.ORDER_STATUS_CANCELLED: OrderStatus.CANCELLED,
    pb.ORDER_STATUS_REJECTED: OrderStatus.REJECTED,
    pb.ORDER_STATUS_EXPIRED: OrderStatus.EXPIRED,
}
_REASON = {
    pb.CLOSE_REASON_ENTRY: CloseReason.ENTRY,
    pb.CLOSE_REASON_STOP_LOSS: CloseReason.STOP_LOSS,
    pb.CLOSE_REASON_TAKE_PROFIT: CloseReason.TAKE_PROFIT,
    pb.CLOSE_REASON_FLATTEN: CloseReason.FLATTEN,
}
_SIDE = {Side.BUY: pb.SIDE_BUY, Side.SELL: pb.SIDE_SELL}
_FROM_SIDE = {pb.SIDE_BUY: Side.BUY, pb.SIDE_SELL: Side.SELL}
# Refusals of an order: answered as a REJECTED report, not raised.
REJECTIONS = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
              grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.RESOURCE_EXHAUSTED,
              grpc.StatusCode.ALREADY_EXISTS}  # a client order id reused for another order
_TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class ExecUnavailable(RuntimeError):
    """rust_exec did not answer within the reconnect window."""


def exec_stub(credentials: ExecCredentials | None, channel: grpc.Channel) -> Any:
    """rust_exec's ``ExecutionStub`` on ``channel``; with ``credentials``, every call carries the token
    (``credentials.channel(address)`` makes the TLS channel)."""
    # the generated stub is untyped (grpc_tools writes a .pyi for the messages, none for the service)
    stub = exec_pb2_grpc.ExecutionStub(channel)  # type: ignore[no-untyped-call]
    return stub if credentials is None else Authorized(stub, credentials.metadata())


class Authorized:
    """A gRPC stub whose methods add ``metadata`` (the bearer token) to every call."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        self._stub, self._metadata = stub, metadata

    def __getattr__(self, name: str) -> Any:
        method, metadata = getattr(self._stub, name), self._metadata

        def call(request: Any, **kwargs: Any) -> Any:
            return method(request, metadata=metadata, **kwargs)

        return call


class GrpcExecutionClient:
    """``ExecutionClient`` over gRPC. Picklable: the channel is reopened after unpickling, and the
    batch and flatten counters travel with the pickle so that a re-sent call is recognised. Its
    batches and flattens are numbered in a stream of its own (``stream_id``, new for every client),
    so a second session against one rust_exec is never answered with the first one's results."""

    def __init__(self, address: str, registry: InstrumentRegistry, *, credentials: ExecCredentials | None,
                 timeout: float = 5.0, reconnect_for: float = 20.0, catch_up: bool = True) -> None:
        self.address = address
        self.credentials = credentials  # paths to the token and certificates; None: an --insecure rust_exec
        self.registry = registry
        self.timeout = timeout
        self.reconnect_for = reconnect_for
        self.stream_id = uuid.uuid4().hex
        self.batch_seq = 0
        self.flatten_seq = 0
        self.retries = 0
        self.seen_seq: int | None = None  # the last report this client has handed out
        self.catch_up = catch_up  # False: a command line (breaker, operator) that books nothing
        self.venue_halted = False
        self._channel: grpc.Channel | None = None
        self._stub: Any = None

    # -- plumbing ---------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_channel"] = None
        state["_stub"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def stub(self) -> Any:
        if self._stub is None and self.address.startswith(inprocess.PREFIX):  # a backtest's, in this process
            self._channel = cast(grpc.Channel, inprocess.InProcessChannel(self.address))
            self._stub = exec_stub(None, self._channel)
        if self._stub is None:
            options = [("grpc.enable_retries", 0)]
            self._channel = (grpc.insecure_channel(self.address, options=options) if self.credentials is None
                             else self.credentials.channel(self.address, options))
            self._stub = exec_stub(self.credentials, self._channel)
        return self._stub

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None

    def _call(self, fn: Callable[[Any], T]) -> T:
        """Call, retrying while rust_exec is unreachable (every call here is idempotent)."""
        deadline = time.monotonic() + self.reconnect_for
        delay = 0.01
        while True:
            try:
                return fn(self.stub)
            except grpc.RpcError as e:
                if e.code() not in _TRANSIENT:
                    raise
                if time.monotonic() > deadline:
                    raise ExecUnavailable(f"rust_exec at {self.address} unreachable for "
                                          f"{self.reconnect_for:g} s: {e.details()}") from e
                self.retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    # -- conversions --------------------------------------------------------------------------
    def to_pb(self, order: Order) -> pb.Order:
        inst = self.registry[order.symbol] if order.symbol in self.registry else None
        if inst is None:  # rust_exec refuses it with NOT_FOUND; the numbers do not matter
            points: Callable[[Decimal], int] = lambda p: int(p * 100_000)  # noqa: E731
            units = int(order.lots * 100_000)
        else:
            points = inst.points
            units = int(order.lots * inst.contract_size)
        return pb.Order(
            client_order_id=order.client_order_id, account_id=order.account_id, symbol=order.symbol,
            side=_SIDE[order.side],
            order_type=pb.ORDER_TYPE_LIMIT if order.order_type is OrderType.LIMIT else pb.ORDER_TYPE_MARKET,
            quantity=units, stop_loss=points(order.stop_loss),
            take_profit=points(order.take_profit) if order.take_profit is not None else 0,
            limit_price=points(order.limit_price) if order.limit_price is not None else 0,
            reference_price=points(order.reference_price), max_slippage_points=order.max_slippage_points,
            not_before_ns=order.not_before_ns, expires_ns=order.expires_ns, signal_id=order.signal_id,
            min_hold_ns=order.min_hold_ns)

    def from_pb(self, r: pb.ExecutionReport) -> ExecutionReport:
        fill = None
        if r.HasField("fill") and r.fill.kind != pb.FILL_KIND_UNSPECIFIED:
            inst = self.registry[r.symbol]
            f = r.fill
            fill = Fill(r.client_order_id, r.account_id, r.symbol, _FROM_SIDE[f.side],
                        Decimal(f.quantity) / inst.contract_size, inst.price_from_points(f.price), f.ts_ns,
                        FillKind.OPEN if f.kind == pb.FILL_KIND_OPEN else FillKind.CLOSE, _REASON[f.reason])
        return ExecutionReport(r.client_order_id, r.account_id, _STATUS[r.status], r.ts_ns, r.reason, fill)

    # -- every report once ---------------------------------------------------------------------
    def _start(self) -> None:
        """Reports from before this client existed are not its business."""
        if self.seen_seq is None:
            self.seen_seq = int(self.health().last_seq)

    def _collect(self, own: list[pb.ExecutionReport], last_seq: int, halted: bool) -> list[ExecutionReport]:
        """The reply's reports, preceded by any that others caused since this client's last call
        (an operator's halt with flatten, say), in sequence order: each is handed out once."""
        assert self.seen_seq is not None
        mine = {r.seq for r in own}
        want = [q for q in range(self.seen_seq + 1, last_seq + 1) if q not in mine] if self.catch_up else []
        others = [r for r in self.reports(self.seen_seq, until_seq=max(want)) if r.seq in set(want)] if want else []
        self.seen_seq = max(self.seen_seq, last_seq, *(r.seq for r in own))
        self.venue_halted = halted
        return [self.from_pb(r) for r in sorted([*others, *own], key=lambda r: r.seq)]

    # -- ExecutionClient ----------------------------------------------------------------------
    def submit(self, order: Order) -> ExecutionReport:
        """The order's own report; ``submit_all`` also returns what others caused meanwhile."""
        return [r for r in self.submit_all(order) if r.client_order_id == order.client_order_id][-1]

    def submit_all(self, order: Order) -> list[ExecutionReport]:
        self._start()
        request = pb.SubmitOrderRequest(order=self.to_pb(order))
        try:
            reply = self._call(lambda s: s.SubmitOrder(request, timeout=self.timeout))
        except grpc.RpcError as e:
            if e.code() not in REJECTIONS:
                raise
            refused = ExecutionReport(order.client_order_id, order.account_id, OrderStatus.REJECTED,
                                      order.not_before_ns, e.details() or e.code().name)
            # grpc's metadata items are (key, value) named tuples; its stubs type them as a bare class
            trailing = cast("tuple[tuple[str, str], ...]", e.trailing_metadata() or ())
            seq = dict(trailing).get("octet-report-seq")
            if seq is None:
                return [refused]
            # The rejection is a report of the journal: what others caused before it (an operator's
            # flatten, say) is handed out first, then it counts as seen, so nothing is skipped.
            before = self._collect([], int(seq) - 1, self.venue_halted)
            self.seen_seq = max(self.seen_seq or 0, int(seq))
            return [*before, refused]
        return self._collect([reply.report], reply.last_seq, reply.halted)

    def cancel(self, client_order_id: str, ts_ns: int) -> ExecutionReport:
        request = pb.CancelOrderRequest(client_order_id=client_order_id, ts_ns=ts_ns)
        try:
            reply = self._call(lambda s: s.CancelOrder(request, timeout=self.timeout))
        except grpc.RpcError as e:
            if e.code() not in REJECTIONS:
                raise
            return ExecutionReport(client_order_id, "", OrderStatus.REJECTED, ts_ns, e.details() or "")
        return self.from_pb(reply.last_report)

    def quotes_request(self, quotes: TickBatch, batch_seq: int) -> pb.PushQuotesRequest:
        symbols = [inst.symbol for inst in self.registry.values()]
        return pb.PushQuotesRequest(batch_seq=batch_seq, stream_id=self.stream_id, symbols=symbols,
                                    symbol_index=quotes.inst.tolist(),
                                    ts_ns=quotes.ts.tolist(), bid=quotes.bid.tolist(), ask=quotes.ask.tolist(),
                                    continuous=[] if quotes.path is None else quotes.path.tolist())

    def on_quotes(self, quotes: TickBatch) -> list[ExecutionReport]:
        if len(quotes) == 0:
            return []
        self._start()
        self.batch_seq += 1
        request = self.quotes_request(quotes, self.batch_seq)
        reply = self._call(lambda s: s.PushQuotes(request, timeout=self.timeout))
        return self._collect(list(reply.reports), reply.last_seq, reply.halted)

    def flatten(self, account_id: str | None, ts_ns: int, reason: str, position_id: str = "",
                at_next_quote: bool = False) -> list[ExecutionReport]:
        self._start()
        self.flatten_seq += 1
        request = pb.FlattenRequest(request_id=f"{self.stream_id}-flatten-{self.flatten_seq}", account_id=account_id or "",
                                    ts_ns=ts_ns, reason=reason, position_id=position_id, at_next_quote=at_next_quote)
        reply = self._call(lambda s: s.Flatten(request, timeout=self.timeout))
        return self._collect(list(reply.reports), reply.last_seq, reply.halted)

    def halt(self, reason: str, *, account_id: str = "", cancel_working: bool = False, flatten: bool = False,
             ts_ns: int = 0) -> list[ExecutionReport]:
        self._start()
        request = pb.HaltRequest(reason=reason, account_id=account_id, cancel_working=cancel_working,
                                 flatten=flatten, ts_ns=ts_ns)
        reply = self._call(lambda s: s.Halt(request, timeout=self.timeout))
        return self._collect(list(reply.reports), reply.last_seq, reply.halted)

    def operator_halt(self, reason: str, *, account_id: str = "", flatten: bool = False) -> int:
        """The operator's kill switch: halt (and with ``flatten`` cancel and close), and say how many
        orders and positions it touched. Needs no instruments: the reports are not turned into fills,
        so it works from any directory with only rust_exec's address."""
        request = pb.HaltRequest(reason=reason, account_id=account_id, cancel_working=flatten, flatten=flatten)
        return len(self._call(lambda s: s.Halt(request, timeout=self.timeout)).reports)

    def missed_reports(self) -> list[ExecutionReport]:
        """What other clients caused since this client's last call (an operator's flatten), once."""
        self._start()
        health = self.health()
        return self._collect([], int(health.last_seq), bool(health.halted))

    def resume(self, account_id: str = "") -> None:
        self._call(lambda s: s.Resume(pb.ResumeRequest(account_id=account_id), timeout=self.timeout))

    def health(self) -> pb.HealthResponse:
        reply: pb.HealthResponse = self._call(lambda s: s.Health(pb.HealthRequest(), timeout=self.timeout))
        return reply

    @property
    def halted(self) -> bool:
        return bool(self.health().halted)

    def positions(self, account_id: str = "") -> list[pb.Position]:
        reply = self._call(lambda s: s.ListPositions(pb.ListPositionsRequest(account_id=account_id),
                                                     timeout=self.timeout))
        return list(reply.positions)

    def get_order(self, client_order_id: str) -> pb.OrderReply:
        reply: pb.OrderReply = self._call(lambda s: s.GetOrder(pb.GetOrderRequest(client_order_id=client_order_id),
                                                               timeout=self.timeout))
        return reply

    def reports(self, from_seq: int = 0, *, until_seq: int | None = None,
                timeout: float = 5.0) -> list[pb.ExecutionReport]:
        """Reports with seq > from_seq from the stream, up to ``until_seq`` (default: the last one now)."""
        if until_seq is None:
            until_seq = int(self.health().durable_seq)
        out: list[pb.ExecutionReport] = []
        if until_seq <= from_seq:
            return out
        stream = self.stub.StreamReports(pb.StreamReportsRequest(from_seq=from_seq), timeout=timeout)
        for r in stream:
            out.append(r)
            if r.seq >= until_seq:
                stream.cancel()
                break
        return out
