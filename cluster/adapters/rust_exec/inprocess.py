"""rust_exec's service inside this process: the backtest's venue, without a socket.

``octet backtest`` runs the desk's agents in one process; a gRPC round trip to a child ``octet-exec``
cost it about 0.8 ms a call (a quote batch, a submit), most of a backtest's time between signals.
Here the same Rust ``ExecService`` (engine, journal, idempotency, refusals: rust_exec/py) is loaded
as a Python module and called directly. It is reached through a channel that speaks the generated
stub's interface (``exec_pb2_grpc.ExecutionStub`` on an ``InProcessChannel``), so the
``GrpcExecutionClient`` and everything above it run unchanged; its address is ``inprocess:<id>``,
valid in this process only (a Ray desk, whose agents live in other processes, uses the process).

No credentials: the caller is the process that owns the journal. The journal is kept as the
process keeps it (not fsynced in a backtest: ``execution.fsync``), locked while open.

The module is built by ``make setup`` (``rust_exec/py``, copied beside this file); without it,
``available()`` is false and the backtest starts the process as a desk does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

from cluster.adapters.rust_exec.process import ExecServiceError, exec_config
from cluster.config.secrets import ExecCredentials, private_dir
from cluster.config.settings import Settings

PREFIX = "inprocess:"
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_OPEN: dict[str, Any] = {}  # address -> the native Service
_ids = itertools.count(1)


def _native() -> Any:
    from cluster.adapters.rust_exec import octet_exec_native  # type: ignore[attr-defined]

    return octet_exec_native


def available() -> bool:
    """Whether the native module is built (``make setup``) and loads."""
    try:
        _native()
    except ImportError:
        return False
    return True


class InProcessRpcError(grpc.RpcError):
    """A refusal of the in-process service: what grpc raises for the same status."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:  # grpc's: (key, value) pairs
        return self._trailing


class _Reports:
    """StreamReports' replies: the durable reports after ``from_seq``, a page at a time, ending at
    the last durable one (a backtest's caller always names where to stop, see the client)."""

    def __init__(self, service: Any, from_seq: int, deserialize: Callable[[bytes], Any]) -> None:
        self._service, self._seq, self._deserialize = service, from_seq, deserialize
        self._page: list[Any] = []
        self._done = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if not self._page and not self._done:
            try:
                raw = self._service.reports(self._seq, 2**63 - 1)
            except RuntimeError as e:  # closed or stopped meanwhile: as a stream whose server went away
                raise InProcessRpcError(grpc.StatusCode.UNAVAILABLE, str(e)) from None
            page = [self._deserialize(b) for b in raw]
            self._done = not page
            self._page = page
        if not self._page:
            raise StopIteration
        report = self._page.pop(0)
        self._seq = report.seq
        return report

    def cancel(self) -> None:
        self._done, self._page = True, []


class InProcessChannel:
    """What ``ExecutionStub`` needs of a ``grpc.Channel``, served by the in-process service at
    ``address``. A service that is not open (stopped, or never started in this process) answers
    UNAVAILABLE, as a process that is down does: the client retries, then gives up."""

    def __init__(self, address: str) -> None:
        self.address = address

    def _service(self) -> Any:
        service = _OPEN.get(self.address)  # a closed one answers UNAVAILABLE itself
        if service is None:
            raise InProcessRpcError(grpc.StatusCode.UNAVAILABLE,
                                    f"{self.address}: no rust_exec service is open in this process there")
        return service

    def unary_unary(self, path: str, request_serializer: Callable[[Any], bytes],
                    response_deserializer: Callable[[bytes], Any], **_: Any) -> Callable[..., Any]:
        method = path.rsplit("/", 1)[1]

        def call(request: Any, timeout: float | None = None, metadata: Any = None) -> Any:
            code, details, trailing, body = self._service().call(method, request_serializer(request))
            if code != 0:
                raise InProcessRpcError(_CODES.get(code, grpc.StatusCode.UNKNOWN), details, tuple(trailing))
            return response_deserializer(body)

        return call

    def unary_stream(self, path: str, request_serializer: Callable[[Any], bytes],
                     response_deserializer: Callable[[bytes], Any], **_: Any) -> Callable[..., Any]:
        def call(request: Any, timeout: float | None = None, metadata: Any = None) -> _Reports:
            return _Reports(self._service(), int(request.from_seq), response_deserializer)

        return call

    def close(self) -> None:
        pass


class InProcessExecService:
    """``ExecService``'s part that a session uses (start, stop, journal_dir, credentials), with the
    service in this process: ``start()`` returns the ``inprocess:`` address its clients use."""

    def __init__(self, config: dict[str, Any], journal_dir: Path, *, fsync: bool = True,
                 lock_wait: float = 10.0) -> None:
        self.config = config
        self.journal_dir = Path(journal_dir)
        self.fsync = fsync
        self.lock_wait = lock_wait  # s to wait for another holder of the journal
        self.address = ""
        self.metrics_address = ""  # no Prometheus port: the counters are the process's
        self.restarts = 0  # nothing to restart: it dies with the process that owns it

    @classmethod
    def for_settings(cls, settings: Settings, journal_dir: Path) -> InProcessExecService:
        return cls(exec_config(settings), journal_dir, fsync=settings.execution.fsync)

    def credentials(self, role: str = "desk") -> ExecCredentials | None:
        return None  # none needed: the caller owns the service

    def start(self) -> str:
        if self.address:
            return self.address
        private_dir(self.journal_dir)
        try:
            service = _native().Service(json.dumps(self.config), str(self.journal_dir), self.fsync,
                                        lock_wait_ms=int(self.lock_wait * 1000))
        except (RuntimeError, ValueError) as e:  # its configuration, or its journal (locked, damaged)
            raise ExecServiceError(f"rust_exec in-process over {self.journal_dir}: {e}") from None
        self.address = f"{PREFIX}{next(_ids)}"
        _OPEN[self.address] = service
        return self.address

    def stop(self) -> None:
        service = _OPEN.pop(self.address, None)
        if service is not None:
            service.close()
        self.address = ""

    def __enter__(self) -> InProcessExecService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
