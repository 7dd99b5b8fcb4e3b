from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    ORDER_TYPE_MARKET: _ClassVar[OrderType]
    ORDER_TYPE_LIMIT: _ClassVar[OrderType]

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_NEW: _ClassVar[OrderStatus]
    ORDER_STATUS_ACCEPTED: _ClassVar[OrderStatus]
    ORDER_STATUS_PARTIALLY_FILLED: _ClassVar[OrderStatus]
    ORDER_STATUS_FILLED: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELLED: _ClassVar[OrderStatus]
    ORDER_STATUS_REJECTED: _ClassVar[OrderStatus]
    ORDER_STATUS_EXPIRED: _ClassVar[OrderStatus]

class FillKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILL_KIND_UNSPECIFIED: _ClassVar[FillKind]
    FILL_KIND_OPEN: _ClassVar[FillKind]
    FILL_KIND_CLOSE: _ClassVar[FillKind]

class CloseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLOSE_REASON_UNSPECIFIED: _ClassVar[CloseReason]
    CLOSE_REASON_ENTRY: _ClassVar[CloseReason]
    CLOSE_REASON_STOP_LOSS: _ClassVar[CloseReason]
    CLOSE_REASON_TAKE_PROFIT: _ClassVar[CloseReason]
    CLOSE_REASON_FLATTEN: _ClassVar[CloseReason]

class RejectCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_CODE_UNSPECIFIED: _ClassVar[RejectCode]
    REJECT_CODE_HALTED: _ClassVar[RejectCode]
    REJECT_CODE_INVALID: _ClassVar[RejectCode]
    REJECT_CODE_UNKNOWN_ACCOUNT: _ClassVar[RejectCode]
    REJECT_CODE_UNKNOWN_INSTRUMENT: _ClassVar[RejectCode]
    REJECT_CODE_INSTRUMENT_NOT_ALLOWED: _ClassVar[RejectCode]
    REJECT_CODE_ORDER_TOO_LARGE: _ClassVar[RejectCode]
    REJECT_CODE_NOTIONAL_LIMIT: _ClassVar[RejectCode]
    REJECT_CODE_SLIPPAGE: _ClassVar[RejectCode]

class ReportEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_EVENT_UNSPECIFIED: _ClassVar[ReportEvent]
    REPORT_EVENT_STATUS: _ClassVar[ReportEvent]
    REPORT_EVENT_FILL: _ClassVar[ReportEvent]
    REPORT_EVENT_MODIFIED: _ClassVar[ReportEvent]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
ORDER_TYPE_MARKET: OrderType
ORDER_TYPE_LIMIT: OrderType
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_NEW: OrderStatus
ORDER_STATUS_ACCEPTED: OrderStatus
ORDER_STATUS_PARTIALLY_FILLED: OrderStatus
ORDER_STATUS_FILLED: OrderStatus
ORDER_STATUS_CANCELLED: OrderStatus
ORDER_STATUS_REJECTED: OrderStatus
ORDER_STATUS_EXPIRED: OrderStatus
FILL_KIND_UNSPECIFIED: FillKind
FILL_KIND_OPEN: FillKind
FILL_KIND_CLOSE: FillKind
CLOSE_REASON_UNSPECIFIED: CloseReason
CLOSE_REASON_ENTRY: CloseReason
CLOSE_REASON_STOP_LOSS: CloseReason
CLOSE_REASON_TAKE_PROFIT: CloseReason
CLOSE_REASON_FLATTEN: CloseReason
REJECT_CODE_UNSPECIFIED: RejectCode
REJECT_CODE_HALTED: RejectCode
REJECT_CODE_INVALID: RejectCode
REJECT_CODE_UNKNOWN_ACCOUNT: RejectCode
REJECT_CODE_UNKNOWN_INSTRUMENT: RejectCode
REJECT_CODE_INSTRUMENT_NOT_ALLOWED: RejectCode
REJECT_CODE_ORDER_TOO_LARGE: RejectCode
REJECT_CODE_NOTIONAL_LIMIT: RejectCode
REJECT_CODE_SLIPPAGE: RejectCode
REPORT_EVENT_UNSPECIFIED: ReportEvent
REPORT_EVENT_STATUS: ReportEvent
REPORT_EVENT_FILL: ReportEvent
REPORT_EVENT_MODIFIED: ReportEvent

class Order(_message.Message):
    __slots__ = ("client_order_id", "account_id", "symbol", "side", "order_type", "quantity", "stop_loss", "take_profit", "limit_price", "reference_price", "max_slippage_points", "not_before_ns", "expires_ns", "signal_id", "min_hold_ns")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PRICE_FIELD_NUMBER: _ClassVar[int]
    MAX_SLIPPAGE_POINTS_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_NS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_NS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_HOLD_NS_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    stop_loss: int
    take_profit: int
    limit_price: int
    reference_price: int
    max_slippage_points: int
    not_before_ns: int
    expires_ns: int
    signal_id: str
    min_hold_ns: int
    def __init__(self, client_order_id: _Optional[str] = ..., account_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., quantity: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., limit_price: _Optional[int] = ..., reference_price: _Optional[int] = ..., max_slippage_points: _Optional[int] = ..., not_before_ns: _Optional[int] = ..., expires_ns: _Optional[int] = ..., signal_id: _Optional[str] = ..., min_hold_ns: _Optional[int] = ...) -> None: ...

class Fill(_message.Message):
    __slots__ = ("kind", "reason", "side", "quantity", "price", "ts_ns")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    kind: FillKind
    reason: CloseReason
    side: Side
    quantity: int
    price: int
    ts_ns: int
    def __init__(self, kind: _Optional[_Union[FillKind, str]] = ..., reason: _Optional[_Union[CloseReason, str]] = ..., side: _Optional[_Union[Side, str]] = ..., quantity: _Optional[int] = ..., price: _Optional[int] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class ExecutionReport(_message.Message):
    __slots__ = ("seq", "client_order_id", "account_id", "symbol", "event", "status", "ts_ns", "reason", "reject_code", "fill", "filled_quantity", "stop_loss", "take_profit")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    client_order_id: str
    account_id: str
    symbol: str
    event: ReportEvent
    status: OrderStatus
    ts_ns: int
    reason: str
    reject_code: RejectCode
    fill: Fill
    filled_quantity: int
    stop_loss: int
    take_profit: int
    def __init__(self, seq: _Optional[int] = ..., client_order_id: _Optional[str] = ..., account_id: _Optional[str] = ..., symbol: _Optional[str] = ..., event: _Optional[_Union[ReportEvent, str]] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., ts_ns: _Optional[int] = ..., reason: _Optional[str] = ..., reject_code: _Optional[_Union[RejectCode, str]] = ..., fill: _Optional[_Union[Fill, _Mapping]] = ..., filled_quantity: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("position_id", "account_id", "symbol", "side", "quantity", "entry_price", "stop_loss", "take_profit", "opened_ns", "closing", "closing_ns")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    OPENED_NS_FIELD_NUMBER: _ClassVar[int]
    CLOSING_FIELD_NUMBER: _ClassVar[int]
    CLOSING_NS_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    account_id: str
    symbol: str
    side: Side
    quantity: int
    entry_price: int
    stop_loss: int
    take_profit: int
    opened_ns: int
    closing: str
    closing_ns: int
    def __init__(self, position_id: _Optional[str] = ..., account_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., quantity: _Optional[int] = ..., entry_price: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., opened_ns: _Optional[int] = ..., closing: _Optional[str] = ..., closing_ns: _Optional[int] = ...) -> None: ...

class SubmitOrderRequest(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class SubmitOrderResponse(_message.Message):
    __slots__ = ("report", "duplicate", "last_seq", "halted")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HALTED_FIELD_NUMBER: _ClassVar[int]
    report: ExecutionReport
    duplicate: bool
    last_seq: int
    halted: bool
    def __init__(self, report: _Optional[_Union[ExecutionReport, _Mapping]] = ..., duplicate: _Optional[bool] = ..., last_seq: _Optional[int] = ..., halted: _Optional[bool] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("client_order_id", "ts_ns")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    ts_ns: int
    def __init__(self, client_order_id: _Optional[str] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class ModifyOrderRequest(_message.Message):
    __slots__ = ("client_order_id", "stop_loss", "take_profit", "ts_ns")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    stop_loss: int
    take_profit: int
    ts_ns: int
    def __init__(self, client_order_id: _Optional[str] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("client_order_id",)
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    def __init__(self, client_order_id: _Optional[str] = ...) -> None: ...

class OrderReply(_message.Message):
    __slots__ = ("order", "status", "filled_quantity", "average_price", "position_open", "last_report")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PRICE_FIELD_NUMBER: _ClassVar[int]
    POSITION_OPEN_FIELD_NUMBER: _ClassVar[int]
    LAST_REPORT_FIELD_NUMBER: _ClassVar[int]
    order: Order
    status: OrderStatus
    filled_quantity: int
    average_price: int
    position_open: bool
    last_report: ExecutionReport
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., filled_quantity: _Optional[int] = ..., average_price: _Optional[int] = ..., position_open: _Optional[bool] = ..., last_report: _Optional[_Union[ExecutionReport, _Mapping]] = ...) -> None: ...

class ListPositionsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ListPositionsResponse(_message.Message):
    __slots__ = ("positions",)
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ...) -> None: ...

class PushQuotesRequest(_message.Message):
    __slots__ = ("batch_seq", "symbols", "symbol_index", "ts_ns", "bid", "ask", "stream_id", "continuous")
    BATCH_SEQ_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_INDEX_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CONTINUOUS_FIELD_NUMBER: _ClassVar[int]
    batch_seq: int
    symbols: _containers.RepeatedScalarFieldContainer[str]
    symbol_index: _containers.RepeatedScalarFieldContainer[int]
    ts_ns: _containers.RepeatedScalarFieldContainer[int]
    bid: _containers.RepeatedScalarFieldContainer[int]
    ask: _containers.RepeatedScalarFieldContainer[int]
    stream_id: str
    continuous: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, batch_seq: _Optional[int] = ..., symbols: _Optional[_Iterable[str]] = ..., symbol_index: _Optional[_Iterable[int]] = ..., ts_ns: _Optional[_Iterable[int]] = ..., bid: _Optional[_Iterable[int]] = ..., ask: _Optional[_Iterable[int]] = ..., stream_id: _Optional[str] = ..., continuous: _Optional[_Iterable[bool]] = ...) -> None: ...

class PushQuotesResponse(_message.Message):
    __slots__ = ("reports", "duplicate", "last_seq", "halted")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HALTED_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ExecutionReport]
    duplicate: bool
    last_seq: int
    halted: bool
    def __init__(self, reports: _Optional[_Iterable[_Union[ExecutionReport, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., last_seq: _Optional[int] = ..., halted: _Optional[bool] = ...) -> None: ...

class FlattenRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "ts_ns", "reason", "position_id", "at_next_quote")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_NEXT_QUOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    ts_ns: int
    reason: str
    position_id: str
    at_next_quote: bool
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., ts_ns: _Optional[int] = ..., reason: _Optional[str] = ..., position_id: _Optional[str] = ..., at_next_quote: _Optional[bool] = ...) -> None: ...

class FlattenResponse(_message.Message):
    __slots__ = ("reports", "duplicate", "last_seq", "halted")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HALTED_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ExecutionReport]
    duplicate: bool
    last_seq: int
    halted: bool
    def __init__(self, reports: _Optional[_Iterable[_Union[ExecutionReport, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., last_seq: _Optional[int] = ..., halted: _Optional[bool] = ...) -> None: ...

class HaltRequest(_message.Message):
    __slots__ = ("reason", "account_id", "cancel_working", "flatten", "ts_ns")
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_WORKING_FIELD_NUMBER: _ClassVar[int]
    FLATTEN_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    account_id: str
    cancel_working: bool
    flatten: bool
    ts_ns: int
    def __init__(self, reason: _Optional[str] = ..., account_id: _Optional[str] = ..., cancel_working: _Optional[bool] = ..., flatten: _Optional[bool] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class HaltResponse(_message.Message):
    __slots__ = ("reports", "halted_at_seq", "last_seq", "halted")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    HALTED_AT_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HALTED_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ExecutionReport]
    halted_at_seq: int
    last_seq: int
    halted: bool
    def __init__(self, reports: _Optional[_Iterable[_Union[ExecutionReport, _Mapping]]] = ..., halted_at_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., halted: _Optional[bool] = ...) -> None: ...

class ResumeRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ResumeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("version", "halted", "halt_reason", "halted_accounts", "last_seq", "durable_seq", "orders", "open_positions", "recovered_records", "uptime_ms", "pid")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HALTED_FIELD_NUMBER: _ClassVar[int]
    HALT_REASON_FIELD_NUMBER: _ClassVar[int]
    HALTED_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    DURABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    OPEN_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    version: str
    halted: bool
    halt_reason: str
    halted_accounts: _containers.RepeatedScalarFieldContainer[str]
    last_seq: int
    durable_seq: int
    orders: int
    open_positions: int
    recovered_records: int
    uptime_ms: int
    pid: int
    def __init__(self, version: _Optional[str] = ..., halted: _Optional[bool] = ..., halt_reason: _Optional[str] = ..., halted_accounts: _Optional[_Iterable[str]] = ..., last_seq: _Optional[int] = ..., durable_seq: _Optional[int] = ..., orders: _Optional[int] = ..., open_positions: _Optional[int] = ..., recovered_records: _Optional[int] = ..., uptime_ms: _Optional[int] = ..., pid: _Optional[int] = ...) -> None: ...

class StreamReportsRequest(_message.Message):
    __slots__ = ("from_seq",)
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    def __init__(self, from_seq: _Optional[int] = ...) -> None: ...
