"""The gateway's FastAPI app: Octet's API under ``/api/v1`` (OpenAPI at ``/docs``).

``build_app(settings)`` makes it; ``serve.deploy`` serves it on Ray Serve, and the benchmark also
runs it under plain uvicorn. Every route names the least role that may call it (``x-octet-role``
in the OpenAPI document: public, viewer, trader or admin), and a test holds every route to it.
Reads come from the store (PostgreSQL or the embedded SQLite); the desk is steered through its
control directory (``cluster.desk.desk.DeskFiles``), which records who asked in the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from cluster.config.settings import Settings
from serve import schemas as s
from serve.keys import ROLES, KeyBook, Principal, check_token, issue_token, token_key
from serve.problems import PROBLEMS, ApiHeaders, BodyLimit, Problem, document, install
from serve.queries import Reader

if TYPE_CHECKING:
    from trading.rules import FirmRules

API = "/api/v1"
ACTIONS = ("halt", "resume", "flatten", "reload")
log = logging.getLogger("octet.gateway")

BAR_SECONDS = (60, 300, 900, 1800, 3600, 14400, 86400)
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control character (PostgreSQL refuses a NUL in a string)
Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=512, pattern=PRINTABLE, description="next_cursor of the page before")]
RunQ = Annotated[str | None, Query(max_length=32, pattern=PRINTABLE, description="a run id; default: the desk's current run, "
                                                               "else the latest")]
Text = Annotated[str | None, Query(max_length=160, pattern=PRINTABLE)]
Ns = Annotated[int | None, Query(ge=0, le=2**63 - 1, description="ns since the epoch")]


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, in bursts of up to a tenth of that
    (at least 10). Per replica: with n replicas a key may reach n times the rate."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(10.0, per_minute / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the request may go, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            level, at = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - at) * self.rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate


class ReadCache:
    """What a read route answered, kept ``ttl`` seconds per replica (the desk writes its records a
    batch at a time: a view a fraction of a second old is what any reader sees anyway). A view past
    its time is answered once more while a fresh one is made beside it (no request waits on the
    store for a view it had), but never one older than ``ttl + stale``: a store that stays down is
    then a 503, not an old answer given as new. A view never made is waited for, by one query for
    all who ask. It holds at most ``size`` views and ``budget`` bytes of them (beyond: it starts
    afresh), so no choice of parameters grows a replica's memory without bound."""

    def __init__(self, ttl: float, size: int = 4096, stale: float = 5.0, budget: int = 64 << 20) -> None:
        self.ttl, self.size, self.stale, self.budget = ttl, size, stale, budget
        self.bytes = 0
        self._items: dict[Any, tuple[float, Any]] = {}
        self._making: dict[Any, asyncio.Task[Any]] = {}

    async def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        if self.ttl <= 0:
            return await compute()
        hit = self._items.get(key)
        age = time.monotonic() - hit[0] if hit is not None else math.inf
        if hit is not None and age < self.ttl:
            return hit[1]
        task = self._making.get(key)
        if task is None:
            task = asyncio.ensure_future(self._make(key, compute))
            self._making[key] = task
        if hit is not None and age < self.ttl + self.stale:
            return hit[1]  # stale by less than the time a fresh one takes
        return await asyncio.shield(task)

    async def _make(self, key: Any, compute: Callable[[], Any]) -> Any:
        try:
            value = await compute()
            cost = len(value) if isinstance(value, bytes | str) else 64
            if len(self._items) >= self.size or self.bytes + cost > self.budget:  # many keys: start afresh
                self._items.clear()
                self.bytes = 0
            old = self._items.get(key)
            if old is not None:
                self.bytes -= len(old[1]) if isinstance(old[1], bytes | str) else 64
            self._items[key] = (time.monotonic(), value)
            self.bytes += cost
            return value
        finally:
            self._making.pop(key, None)


@dataclass
class Gateway:
    """What the routes share: the settings, the store, the keys, the desk's files."""

    settings: Settings
    reader: Reader
    keys: KeyBook
    token_secret: bytes
    limiter: RateLimiter
    data_dir: Path
    _files: Any = None
    _current: tuple[float, str | None] = (0.0, None)
    _hub: Any = None

    def stream_hub(self) -> Any:
        """The replica's stream hub (``serve.stream.Hub``), or None when the desk's live state is
        not in Redis."""
        st = self.settings
        if st.runtime.live != "redis" or st.storage.redis_url is None:
            return None
        if self._hub is None:
            from serve.stream import Hub

            self._hub = Hub(st.storage.redis_url.get_secret_value(), st.gateway.stream_queue,
                            st.gateway.streams_at_most())
        return self._hub

    def desk_files(self) -> Any:
        """The desk's files (made once: opening them checks and makes its private directories)."""
        if self._files is None:
            from cluster.config.secrets import state_key
            from cluster.desk.desk import DeskFiles

            self._files = DeskFiles(self.data_dir, state_key(self.data_dir))
        return self._files

    def current_run(self) -> str | None:
        """The desk's current run, read from its files at most every half second."""
        at, run = self._current
        if time.monotonic() - at > 0.5:
            found = self.desk_files().meta().get("run_id")
            run = str(found) if found else None
            self._current = (time.monotonic(), run)
        return run


def rules_of(settings: Settings, account: dict[str, Any]) -> FirmRules | None:
    """The account's rules: from the settings, or the shipped preset its firm names; None when
    neither knows them."""
    from trading.errors import InvalidValue
    from trading.presets import load_preset

    acc = next((a for a in settings.accounts if a.id == account["account_id"]), None)
    firm = str(account["firm"])
    if acc is None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}", firm):
        return None  # not a preset's name (and never a path)
    try:
        return settings.firm_rules(acc) if acc is not None else load_preset(firm)
    except (InvalidValue, KeyError, ValueError, OSError):
        return None


def book_of(settings: Settings, accounts: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """The run's open positions as one book (``trading.exposure.book_view``), amounts as strings;
    a firm is named as its rules name it (FTMO for ftmo.challenge and ftmo_1step.funded alike)."""
    from decimal import Decimal

    from trading.conduct import firm_of
    from trading.exposure import BookPosition, book_view
    from trading.money import plain_numbers
    from trading.orders import Side

    reg = settings.registry()
    registry = {sym: reg[sym] for sym in reg.symbols}
    known, unknown = [], set()
    for a in accounts:
        rules = rules_of(settings, a)
        firm = firm_of(rules) if rules is not None else str(a["firm"])
        for p in a["positions"]:
            if p["symbol"] not in registry:
                unknown.add(str(p["symbol"]))
                continue
            known.append(BookPosition(str(a["account_id"]), firm, str(p["symbol"]), Side[str(p["side"])],
                                      Decimal(str(p["lots"])), Decimal(str(p["price"]))))
    return {"run_id": run_id, **plain_numbers(book_view(known, registry)), "unknown_instruments": sorted(unknown)}


def firm_view(settings: Settings, account: dict[str, Any]) -> dict[str, Any] | None:
    """The account's firm limits and its next day's start after the account's last state (its rules
    from the settings, or the shipped preset its firm names), or None when neither knows them."""
    from decimal import Decimal

    rules = rules_of(settings, account)
    if rules is None:
        return None
    at = account.get("as_of_ns") or time.time_ns()
    return {"daily_loss_pct": None if rules.daily_loss_pct is None else str(rules.daily_loss_pct),
            "max_loss_pct": str(rules.max_loss_pct),
            "max_loss_limit": str(rules.max_loss_limit(Decimal(str(account["initial_balance"])))),
            "timezone": rules.reset_timezone, "reset_time": rules.reset_time.strftime("%H:%M"),
            "resets_ns": rules.next_reset_ns(int(at))}


bearer = HTTPBearer(auto_error=False, description="An API key (okt_...) or a login token")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (okt_...)")


def freeze_heap(settings: Settings) -> None:
    """With ``gateway.gc_freeze``, move what a server process holds once it is built (its imports,
    the app: ~190,000 objects) out of the garbage collector's reach (``gc.freeze``). A full collection
    walks every tracked object, and walking these took 125 ms here, while every request waited.
    For the app under a plain ASGI server (``serve.asgi``); Ray Serve does the same for its replicas
    and proxy by itself (``RAY_SERVE_FREEZE_GC_ON_STARTUP``). What comes later is still collected."""
    if settings.gateway.gc_freeze:
        gc.collect()
        gc.freeze()


def build_app(settings: Settings, engine: Any = None, site: Any = "load") -> FastAPI:
    """The API app over the store ``settings`` name (or ``engine``), with the dashboard ``site``
    (a ``serve.ui.Site``; by default read from ``gateway.dashboard_dir``) under ``/``."""
    from cluster.storage.store import SessionStore, store_url

    if engine is None:
        engine = SessionStore(store_url(settings)).engine
    data_dir = Path(settings.runtime.data_dir)
    gw = Gateway(settings, Reader(engine), KeyBook(engine), token_key(data_dir),
                 RateLimiter(settings.gateway.rate_limit_per_minute), data_dir)
    app = FastAPI(title="Octet API", version="1", openapi_url="/openapi.json", docs_url=None, redoc_url=None,
                  description="Watch and steer the Octet desk. Authenticate with an API key "
                              "(`octet users add NAME --role viewer|trader|admin`) as `Authorization: Bearer "
                              "okt_...` or `X-API-Key`, or with a login token from `POST /api/v1/auth/token`. "
                              "Errors are RFC 9457 problem documents with a stable `type`.")
    # no redirect from a path with a trailing slash to the route without it: the redirect was answered before any
    # credentials, as a 307 built from the request's Host header (any host a client named); it is a 404 problem
    app.router.redirect_slashes = False
    app.state.gateway = gw
    install(app)
    app.add_middleware(BodyLimit)  # before any route reads a body, or anyone is authenticated
    app.add_middleware(ApiHeaders)  # no-store and nosniff on every answer under /api
    if settings.gateway.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.gateway.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "X-API-Key",
                                                                        "Content-Type"])

    # Dependencies as defaults, not Annotated: the annotations are strings (``from __future__``) and
    # FastAPI resolves them in the module's globals, where the local ``authenticate`` is not. Both are
    # async: a sync dependency costs a thread hop per request (a key's row is read at most every 5 s)
    async def authenticate(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
                     key: str | None = Depends(api_key_header)) -> Principal:  # noqa: B008
        presented = key or (cred.credentials if cred is not None else None)
        # a key whose row this replica holds is checked here; one it must read, in a thread (the
        # event loop serves every other request meanwhile)
        who = identify(presented) if presented and gw.keys.known(presented) else \
            await run_in_threadpool(identify, presented)
        request.state.principal = who
        return who

    def identify(presented: str | None, limited: bool = True) -> Principal:
        """Who ``presented`` (a key or a login token) is; a problem if no one (or over the rate)."""
        if not presented:
            raise Problem("unauthorized", "send an API key (Authorization: Bearer okt_..., or X-API-Key) or a "
                                          "login token", headers={"WWW-Authenticate": "Bearer"})
        try:
            who = gw.keys.check_key(presented) if presented.startswith("okt_") else \
                check_token(gw.token_secret, gw.keys, presented)
        except SQLAlchemyError:
            raise Problem("store-unavailable", "the key store cannot be read") from None
        if who is None:
            raise Problem("unauthorized", "the key or token is not valid (unknown, revoked, or expired)",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        wait = gw.limiter.take(who.key_id) if limited else 0.0
        if wait:
            raise Problem("rate-limited", f"more than {settings.gateway.rate_limit_per_minute} requests a minute "
                                          "with this key", headers={"Retry-After": str(math.ceil(wait))})
        return who

    def role(least: str) -> Callable[..., Any]:
        assert least in ROLES

        async def check(who: Principal = Depends(authenticate)) -> Principal:  # noqa: B008
            if not who.may(least):
                raise Problem("forbidden", f"this needs the {least} role; the key {who.name!r} is a {who.role}")
            return who
        return check

    def problem(description: str) -> dict[str, Any]:
        return {"description": description, "model": s.ProblemDoc,
                "content": {"application/problem+json": {"schema": s.ProblemDoc.model_json_schema()}}}

    def routed(least: str, *extra: tuple[int, str]) -> dict[str, Any]:
        """A route's role: its check, and its mark in the OpenAPI document, with its problems."""
        answers = {401: "no valid credentials", 403: f"a role below {least}", 404: "no such run or item",
                   413: "a body over 64 KiB", 422: "a bad parameter or body", 429: "rate limited (Retry-After)",
                   503: "the store (or the desk) cannot be reached", **dict(extra)}
        return {"dependencies": [Depends(role(least))], "openapi_extra": {"x-octet-role": least},
                "responses": {code: problem(text) for code, text in answers.items()}}

    async def db(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args)
        except SQLAlchemyError:
            log.exception("store error")
            raise Problem("store-unavailable", "the store cannot be read right now") from None

    cache = ReadCache(settings.gateway.cache_ms / 1000)
    verdicts = ReadCache(VERIFY_KEPT_S, size=1, stale=0.0)  # GET /audit/verify: one walk of the chain at a time

    async def cached(fn: Callable[..., Any], *args: Any) -> Any:
        """A read through the replica's cache (``gateway.cache_ms``)."""
        return await cache.get((fn.__name__, *args), lambda: db(fn, *args))

    async def view(model: type[BaseModel], fn: Callable[..., Any], *args: Any,
                   shape: Callable[[Any], dict[str, Any]] | None = None) -> Response:
        """A view read through the replica's cache, kept as its JSON (validated by ``model`` once,
        when it is made): a hit costs no query and no serialisation."""
        async def make() -> bytes:
            value = await db(fn, *args)
            return model(**(shape(value) if shape else value)).model_dump_json().encode()
        return Response(await cache.get(("json", fn.__name__, *args), make), media_type="application/json")

    async def run_of(run: str | None) -> str:
        return str(await cached(gw.reader.resolve, run, gw.current_run()))

    r = APIRouter(prefix=API)

    @r.get("/health", openapi_extra={"x-octet-role": "public"}, response_model=dict[str, bool])
    async def health() -> dict[str, bool]:
        """Liveness: the gateway answers (no credentials needed, nothing about the desk)."""
        return {"ok": True}

    @r.get("/whoami", response_model=s.Whoami, **routed("viewer"))
    async def whoami(request: Request) -> s.Whoami:
        p: Principal = request.state.principal
        return s.Whoami(key_id=p.key_id, name=p.name, role=p.role)  # type: ignore[arg-type]

    @r.post("/auth/token", response_model=s.Token, **routed("viewer"))
    async def login(request: Request) -> s.Token:
        """A login token for the dashboard, in exchange for an API key (not for another token)."""
        p: Principal = request.state.principal
        if not presented_in(request.headers).startswith("okt_"):
            raise Problem("forbidden", "a login token is given for an API key, not for another token")
        token, exp = issue_token(gw.token_secret, p, settings.gateway.token_minutes)
        return s.Token(access_token=token, expires_at=exp, role=p.role)  # type: ignore[arg-type]

    @r.get("/runs", response_model=s.Runs, **routed("viewer"))
    async def runs() -> Response:
        return await view(s.Runs, gw.reader.runs, shape=lambda rows: {"items": rows})

    @r.get("/runs/{run_id}", response_model=s.RunDetail, **routed("viewer"))
    async def run_detail(run_id: Annotated[str, PathParam(max_length=32, pattern=PRINTABLE)]) -> Response:
        return await view(s.RunDetail, gw.reader.run, run_id)

    @r.get("/accounts", response_model=s.Accounts, **routed("viewer"))
    async def accounts(run: RunQ = None) -> Response:
        """Each account: balance, equity, each rule's floor and headroom (now, and the worst case with
        every open stop hit), open positions, and the last state of its breakers and the desk's."""
        run_id = await run_of(run)
        return await view(s.Accounts, gw.reader.accounts, run_id,
                          shape=lambda items: {"run_id": run_id,
                                               "items": [{**a, "rules": firm_view(settings, a)} for a in items]})

    @r.get("/book", response_model=s.Book, **routed("viewer"))
    async def book(run: RunQ = None) -> Response:
        """Every account's open positions as one book: by instrument (net, long and short lots, each
        account's), by currency (the net in its own units, each firm's part) and by firm."""
        run_id = await run_of(run)

        def open_book(run_id: str) -> list[dict[str, Any]]:  # a name of its own: the cache keys on it
            return gw.reader.accounts(run_id)
        return await view(s.Book, open_book, run_id, shape=lambda items: book_of(settings, items, run_id))

    @r.get("/accounts/{account_id}/equity", response_model=s.Equity, **routed("viewer"))
    async def equity(account_id: Annotated[str, PathParam(max_length=64, pattern=PRINTABLE)], run: RunQ = None,
                     points: Annotated[int, Query(ge=2, le=5000)] = 500) -> Response:
        """The equity curve, downsampled to at most ``points`` points (each the last of its span,
        with the span's lowest equity)."""
        return await view(s.Equity, gw.reader.equity, await run_of(run), account_id, points)

    @r.get("/positions", response_model=s.Positions, **routed("viewer"))
    async def positions(run: RunQ = None, account: Text = None) -> Response:
        return await view(s.Positions, gw.reader.positions, await run_of(run), account,
                          shape=lambda items: {"items": items})

    @r.get("/orders", response_model=s.Orders, **routed("viewer"))
    async def orders(run: RunQ = None, account: Text = None, symbol: Text = None,
                     status: Annotated[str | None, Query(max_length=20, pattern=PRINTABLE, description="its last report's status")] = None,
                     from_ns: Ns = None, to_ns: Ns = None, limit: Limit = 100, cursor: Cursor = None) -> s.Orders:
        """Orders, oldest first (by the time of their first execution report)."""
        run_id = await run_of(run)
        items, nxt = await db(gw.reader.orders, run_id, account, symbol, status, from_ns, to_ns, limit, cursor)
        return s.Orders(run_id=run_id, items=items, next_cursor=nxt)

    @r.get("/orders/{client_order_id}/story", response_model=s.Story, **routed("viewer"))
    async def story(client_order_id: Annotated[str, PathParam(max_length=128, pattern=PRINTABLE)],
                    run: Annotated[str | None, Query(max_length=32, pattern=PRINTABLE, description=(
                        "a run id; default: the latest run that placed the order (client order ids repeat when "
                        "the same data runs again)"))] = None) -> s.Story:
        """The order's audit records in one run, from the signal behind it and the saga's steps to its last fill."""
        return s.Story(client_order_id=client_order_id, items=await db(gw.reader.story, client_order_id, run))

    @r.get("/operator", response_model=s.OperatorRecords, **routed("viewer"))
    async def operator(run: RunQ = None, limit: Limit = 100, cursor: Cursor = None) -> s.OperatorRecords:
        """Who steered the run: its operator records (sessions started and stopped, halts, resumes,
        flattens, acknowledgements, runs interrupted), oldest first, each with who, why and the
        outcome, from its audit trail."""
        run_id = await run_of(run)
        items, nxt = await db(gw.reader.operator, run_id, limit, cursor)
        return s.OperatorRecords(run_id=run_id, items=items, next_cursor=nxt)

    @r.get("/fills", response_model=s.Fills, **routed("viewer"))
    async def fills(run: RunQ = None, account: Text = None, symbol: Text = None, from_ns: Ns = None,
                    to_ns: Ns = None, limit: Limit = 100, cursor: Cursor = None) -> s.Fills:
        run_id = await run_of(run)
        items, nxt = await db(gw.reader.fills, run_id, account, symbol, from_ns, to_ns, limit, cursor)
        return s.Fills(run_id=run_id, items=items, next_cursor=nxt)

    @r.get("/trades", response_model=s.Trades, **routed("viewer"))
    async def trades(run: RunQ = None, account: Text = None, symbol: Text = None, from_ns: Ns = None,
                     to_ns: Ns = None, limit: Limit = 100, cursor: Cursor = None) -> s.Trades:
        """Closed trades, by the time they closed."""
        items, nxt = await db(gw.reader.trades, await run_of(run), account, symbol, from_ns, to_ns, limit, cursor)
        return s.Trades(items=items, next_cursor=nxt)

    @r.get("/signals", response_model=s.Signals, **routed("viewer"))
    async def signals(run: RunQ = None, symbol: Text = None, setup: Text = None, from_ns: Ns = None,
                      to_ns: Ns = None, limit: Limit = 100, cursor: Cursor = None) -> s.Signals:
        """Signals with their evidence (the Wyckoff events behind each)."""
        items, nxt = await db(gw.reader.signals, await run_of(run), symbol, setup, from_ns, to_ns, limit, cursor)
        return s.Signals(items=items, next_cursor=nxt)

    @r.get("/signals/{signal_id}/decisions", response_model=s.Decisions, **routed("viewer"))
    async def decisions(signal_id: Annotated[str, PathParam(max_length=96, pattern=PRINTABLE)], run: RunQ = None) -> s.Decisions:
        """The saga's steps for one signal, per account, in the order they were decided."""
        return s.Decisions(items=await db(gw.reader.decisions, await run_of(run), signal_id))

    @r.get("/instruments", response_model=s.Instruments, **routed("viewer"))
    async def instruments() -> s.Instruments:
        """The instruments the desk's settings define."""
        reg = gw.settings.registry()
        return s.Instruments(items=[s.Instrument(symbol=i.symbol, base=i.base, quote=i.quote,
                                                 price_precision=i.price_precision, pip_size=str(i.pip_size))
                                    for i in (reg[x] for x in reg)])

    @r.get("/instruments/{symbol}/bars", response_model=s.Bars, **routed("viewer"))
    async def bars(symbol: Annotated[str, PathParam(max_length=32, pattern=PRINTABLE)], run: RunQ = None,
                   seconds: Annotated[int, Query(description="the bars' length: 60, 300, 900, 1800, 3600, 14400 "
                                                             "or 86400 (made from the 1-minute bars)")] = 60,
                   from_ns: Ns = None, to_ns: Ns = None,
                   limit: Annotated[int, Query(ge=1, le=5000, description="bars at most")] = 1000) -> Response:
        """Bars of an instrument (recorded with `storage.record_ticks`), oldest first from `from_ns`,
        with the Wyckoff structure the detector finds over them (trading ranges, events, the phase at
        each bar; over these bars alone, so the first few dozen carry none) and the desk's signals for
        the instrument in that window."""
        if seconds not in BAR_SECONDS:
            raise Problem("invalid-request", f"seconds: one of {', '.join(map(str, BAR_SECONDS))}")
        try:
            gw.settings.registry()[symbol]
        except KeyError:
            raise Problem("not-found", f"no instrument {symbol!r} in the settings") from None
        try:
            run_id: str | None = await run_of(run)
        except Problem:
            if run:
                raise
            run_id = None  # no run recorded: bars without signals
        def bars_view(*args: Any) -> dict[str, Any]:
            return _bars_view(gw, *args)
        return await view(s.Bars, bars_view, symbol, seconds, from_ns, to_ns, limit, run_id)

    @r.get("/audit/verify", response_model=s.AuditVerdict, **routed("viewer"))
    async def audit_verify() -> s.AuditVerdict:
        """Recompute the audit chain and hold the signed anchors against it (as `octet audit verify`). One walk at a
        time: requests that come while one runs get its verdict, and a verdict stands for ``VERIFY_KEPT_S``."""
        return s.AuditVerdict(**await verdicts.get("verify", lambda: db(_verify, gw)))

    @r.get("/desk", response_model=s.Desk, **routed("viewer"))
    async def desk() -> s.Desk:
        """The desk's state and what `octet desk status` shows."""
        files = gw.desk_files()
        meta, status = await run_in_threadpool(lambda: (files.meta(), files.status()))
        running = await run_in_threadpool(files.driver) is not None
        return s.Desk(running=running, state=meta.get("state"), run_id=meta.get("run_id"), phase=meta.get("phase"),
                      status=status)

    @r.get("/agents", response_model=s.Agents, **routed("viewer"))
    async def agents() -> s.Agents:
        """Each agent's calls and time, its process, restarts and last heartbeat, from the desk's last status."""
        status = await run_in_threadpool(gw.desk_files().status)
        items = [s.AgentHealth(name=name, calls=int(a.get("calls", 0)), busy_s=float(a.get("busy_s", 0.0)),
                               save_s=float(a.get("save_s", 0.0)),
                               methods={k: [float(x) for x in v] for k, v in a.get("methods", {}).items()},
                               pid=a.get("pid"), restarts=int(a.get("restarts", 0)), heartbeat_at=a.get("heartbeat_at"),
                               heartbeat_ok=a.get("heartbeat_ok"), missed_heartbeats=int(a.get("missed_heartbeats", 0)))
                 for name, a in sorted(status.get("agents", {}).items())]
        return s.Agents(run_id=status.get("run_id"), ignored=list(status.get("ignored_agents", [])), items=items,
                        ray_dashboard=settings.gateway.ray_dashboard_url)

    async def steer(action: str, who: Principal, account: str, reason: str, wait_seconds: float,
                    **extra: str) -> tuple[str, str | None]:
        """Ask the running desk (its control directory) and wait up to ``wait_seconds`` for its answer."""
        files = gw.desk_files()
        if await run_in_threadpool(files.driver) is None:
            raise Problem("desk-unavailable", "no desk is running on this data_dir (`octet desk start`)")
        rid = await run_in_threadpool(lambda: files.request(action, account, reason, who.who, **extra))
        log.info("%s asked to %s %s: %s (request %s)", who.who, action, extra.get("alert") or account or "the desk",
                 reason, rid)
        deadline = time.monotonic() + wait_seconds
        outcome = await run_in_threadpool(files.answer_of, rid)
        while outcome is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            outcome = await run_in_threadpool(files.answer_of, rid)
        if outcome is not None and outcome.startswith("refused"):
            raise Problem("conflict", outcome, request_id=rid)
        return rid, outcome

    def control(action: str) -> Callable[..., Any]:
        async def ask(body: s.ControlRequest, request: Request) -> s.ControlAnswer:
            rid, outcome = await steer(action, request.state.principal, body.account, body.reason, body.wait_seconds)
            return s.ControlAnswer(request_id=rid, action=action, account=body.account, outcome=outcome)
        ask.__name__ = f"desk_{action}"
        ask.__doc__ = ({"halt": "Open no new saga for an account (or the whole desk) until resumed; positions stay.",
                        "resume": "Lift an operator's halt of an account (or of the desk).",
                        "flatten": "Close every position and cancel working orders of an account (or of every "
                                   "account).",
                        "reload": "Read the news calendar and the market closures again, with no restart (the "
                                  "desk alerts a file changed on disk until then); name no account. "
                                  "If either file cannot be read, neither is taken (409, naming the row)."}[action]
                       + " The desk takes it between two units of work and records it in the audit trail with "
                         "the caller's key; a request it has not taken within desk.request_ttl_seconds is refused.")
        return ask

    for action in ACTIONS:
        r.post(f"/desk/{action}", response_model=s.ControlAnswer, name=f"desk_{action}",
               **routed("admin", (409, "the desk refused it")))(control(action))

    @r.get("/alerts", response_model=s.Alerts, **routed("viewer"))
    async def alerts(run: RunQ = None, unacked: Annotated[bool, Query(description="only those not acknowledged")] = False,
                     limit: Limit = 100, cursor: Cursor = None) -> s.Alerts:
        """What an operator must see: each breaker that opened (an account's or the desk's), and each alert the
        desk raised ahead of a firm's deadline (an account's inactivity rule, the news calendar's end: kind
        ``warning``), with who acknowledged it, when and what they noted."""
        run_id = await run_of(run)
        items, nxt = await db(gw.reader.alerts, run_id, unacked, limit, cursor)
        return s.Alerts(run_id=run_id, items=items, next_cursor=nxt)

    @r.post("/alerts/{alert_id}/ack", response_model=s.ControlAnswer, **routed("trader", (409, "the desk refused it")))
    async def ack_alert(alert_id: Annotated[str, PathParam(pattern=r"^(breaker|warning)-[1-9][0-9]{0,18}$")], body: s.AckRequest,
                        request: Request) -> s.ControlAnswer:
        """Acknowledge an alert: the desk records it in the audit trail with the caller's key and the note
        (nothing of the desk changes). An alert acknowledged twice keeps its first acknowledgement."""
        if not await db(gw.reader.alert_exists, alert_id, gw.current_run()):
            raise Problem("not-found", f"no alert {alert_id!r} in the desk's run")
        rid, outcome = await steer("ack", request.state.principal, "", body.note, body.wait_seconds, alert=alert_id)
        return s.ControlAnswer(request_id=rid, action="ack", account="", outcome=outcome)

    async def sessions_call(method: str, *args: Any) -> Any:
        """A call to the session host (``serve.sessions``), its refusals as problems."""
        from ray.exceptions import RayActorError, RayTaskError

        from serve.sessions import Busy, UnknownSession, host

        h = await run_in_threadpool(host)
        if h is None:
            raise Problem("sessions-unavailable", "no session host: the gateway runs outside Ray (plain uvicorn) "
                                                  "or is still starting")
        try:
            return await getattr(h, method).remote(*args)
        except RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, Busy):
                raise Problem("conflict", str(cause)) from None
            if isinstance(cause, UnknownSession):
                raise Problem("not-found", f"no session {args[0]!r} (finished ones are kept while the gateway runs; "
                                           "its run is in /runs)") from None
            raise
        except RayActorError:
            raise Problem("sessions-unavailable", "the session host is restarting (its process died: the sessions "
                                                  "it ran end, listed as failed and their runs interrupted) or the "
                                                  "gateway is stopping; try again") from None

    @r.get("/sessions", response_model=s.Sessions, **routed("viewer"))
    async def sessions() -> s.Sessions:
        """Backtests and replays started through the API, newest first, with their progress."""
        return s.Sessions(items=await sessions_call("list"))

    @r.post("/sessions", response_model=s.SessionInfo, status_code=202,
            **routed("admin", (409, "as many sessions as gateway.sessions_at_once are running")))
    async def session_start(body: s.SessionRequest, request: Request) -> s.SessionInfo:
        """Start a backtest or a replay on the desk's Ray: a run of its own in the store, through its
        own agents and embedded rust_exec (never the desk's venue); who started it is in its audit
        trail. It runs in the background: follow it at `GET /sessions/{run_id}`."""
        if (body.kind == "replay") != (body.speed is not None):
            why = ("needed for a replay (market seconds per wall second)" if body.kind == "replay" else
                   "refused for a backtest (it goes as fast as the desk does)")
            raise Problem("invalid-request", f"body.speed: {why}", errors=[{"where": "body.speed", "problem": why}])
        who: Principal = request.state.principal
        job = await sessions_call("start", body.kind, body.ticks, body.seed, body.speed, who.who, body.reason)
        log.info("%s started %s %s (%d ticks): %s", who.who, body.kind, job["run_id"], body.ticks, body.reason)
        return s.SessionInfo(**job)

    @r.get("/sessions/{run_id}", response_model=s.SessionInfo, **routed("viewer"))
    async def session_info(run_id: Annotated[str, PathParam(pattern=r"^[a-z]{2}[0-9a-f]{10}$")]) -> s.SessionInfo:
        return s.SessionInfo(**await sessions_call("get", run_id))

    @r.post("/sessions/{run_id}/stop", response_model=s.SessionInfo, status_code=202, **routed("admin"))
    async def session_stop(run_id: Annotated[str, PathParam(pattern=r"^[a-z]{2}[0-9a-f]{10}$")], body: s.StopRequest,
                           request: Request) -> s.SessionInfo:
        """Stop a session after the batch under way (booked and recorded, then flat, as at its end);
        who stopped it is in its audit trail. A session already over is answered as it is."""
        who: Principal = request.state.principal
        job = await sessions_call("stop", run_id, who.who, body.reason)
        log.info("%s stopped %s: %s", who.who, run_id, body.reason)
        return s.SessionInfo(**job)

    @r.get("/desk/requests/{request_id}", response_model=s.RequestAnswer, **routed("viewer"))
    async def request_answer(request_id: Annotated[str, PathParam(pattern=r"^[0-9]{20}-[0-9a-f]{6}$")]) -> s.RequestAnswer:
        """The desk's answer to an operator's request (outcome null: not answered yet; answers are kept a day)."""
        outcome = await run_in_threadpool(gw.desk_files().answer_of, request_id)
        return s.RequestAnswer(request_id=request_id, outcome=outcome)

    app.include_router(r)
    install_stream(app, gw, identify)
    built = (load_site(settings) if site == "load" else site) if settings.gateway.dashboard else None
    install_docs(app, built, settings.gateway.dashboard)
    if settings.gateway.dashboard:
        install_ui(app, built)
    return app


SWAGGER = "/swagger/"  # Swagger UI's files in the dashboard's build (copied there by `make dashboard`)
DOCS_PAGE = (b"<!doctype html><meta charset=utf-8><title>Octet API</title><h1>The API's page is not served</h1>"
             b"<p>Its Swagger UI comes with the dashboard's build, %s; the API's document is at "
             b"<a href=/openapi.json>/openapi.json</a>.</p>")
DOCS_NOT_BUILT = DOCS_PAGE % b"which is not built (<code>make dashboard</code>)"
DOCS_OFF = DOCS_PAGE % b"which <code>gateway.dashboard: false</code> leaves unserved"


def install_docs(app: FastAPI, site: Any, dashboard: bool = True) -> None:
    """The API's page at ``/docs``: Swagger UI from the dashboard's build, on this origin, under the
    dashboard's policy (this origin's scripts only, the page's own inline script by its hash), so no
    other site's script runs beside the login tokens the dashboard keeps here. Without a build, a
    page that says where the document is. (No validator badge: it would be fetched from swagger.io.)"""
    from fastapi.openapi.docs import get_swagger_ui_html
    from starlette.responses import HTMLResponse

    from serve import ui

    built = site is not None and site.find(SWAGGER + "swagger-ui-bundle.js") is not None
    body = bytes(get_swagger_ui_html(
        openapi_url="/openapi.json", title="Octet API", swagger_js_url=SWAGGER + "swagger-ui-bundle.js",
        swagger_css_url=SWAGGER + "swagger-ui.css", swagger_favicon_url=SWAGGER + "favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None}).body) if built else DOCS_NOT_BUILT if dashboard else DOCS_OFF
    status = 200 if built else 503
    headers = {**ui.SECURITY, "Content-Security-Policy": ui.csp(body, True), "Cache-Control": "no-cache"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return HTMLResponse(body, status_code=status, headers=headers)


def load_site(settings: Settings) -> Any:
    """The dashboard's build (``gateway.dashboard_dir``, default ``dashboard/out``), or None."""
    from serve import ui

    if not settings.gateway.dashboard:
        return None
    site = ui.load(settings.gateway.dashboard_dir)
    if site is None:
        log.warning("the dashboard is not built (make dashboard): / says so")
    return site


def install_ui(app: FastAPI, site: Any) -> None:
    """The dashboard's pages and assets at every GET path the API does not route (public: they
    hold no data). A path under the API that names no route stays the API's 404."""
    from starlette.responses import HTMLResponse

    from serve import ui

    def page(request: Request) -> Response | None:
        """The page or asset at the request's path, the build's 404 page, or None (no such page)."""
        at = request.url.path
        if site is None:
            return HTMLResponse(ui.NOT_BUILT, status_code=503 if at == "/" else 404, headers=ui.SECURITY)
        asset, status = site.find(at), 200
        if asset is None:
            asset, status = site.not_found, 404
            if asset is None:
                return None
        headers = {**ui.SECURITY, "Content-Security-Policy": asset.csp, "Cache-Control": site.cache_control(at),
                   "Vary": "Accept-Encoding"}
        body = asset.body
        if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body, headers["Content-Encoding"] = asset.gzipped, "gzip"
        headers["Content-Length"] = str(len(body))  # a HEAD's too: the GET's length
        return Response(b"" if request.method == "HEAD" else body, status_code=status, media_type=asset.content_type,
                        headers=headers)

    # Served where the API's router finds no route: a GET or HEAD outside /api. Anything else (a
    # path under /api, another method; a 405 for a known path) is answered as without the dashboard.
    from starlette.exceptions import HTTPException as StarletteHTTPException

    api_answer = app.exception_handlers[StarletteHTTPException]

    async def not_routed(request: Request, exc: Exception) -> Response:
        at = request.url.path
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 404 and \
                request.method in ("GET", "HEAD") and not (at == API or at.startswith((API + "/", "/api/"))):
            found = page(request)
            if found is not None:
                return found
        answer = api_answer(request, exc)  # (raising here would skip the problem handlers: a 500)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(StarletteHTTPException, not_routed)


SUBPROTOCOL = "octet"
BEARER_PROTOCOL = "octet.bearer."


def offered(scope: Any) -> list[str]:
    """The subprotocols a WebSocket client offered (every ``Sec-WebSocket-Protocol`` header, as the
    ASGI server lists them)."""
    return [str(p) for p in scope.get("subprotocols") or ()]


def offered_bearer(scope: Any) -> str:
    """The key or token a browser offered as the subprotocol ``octet.bearer.<token>``, or ""."""
    for p in offered(scope):
        if p.startswith(BEARER_PROTOCOL):
            return p[len(BEARER_PROTOCOL):]
    return ""


def presented_in(headers: Any) -> str:
    """The key or token in ``X-API-Key`` or ``Authorization: Bearer`` (the scheme in any case, as
    FastAPI's HTTPBearer reads it), or ""."""
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    return str(headers.get("x-api-key") or (value.strip() if scheme.lower() == "bearer" else ""))


CLOSE = {"unauthorized": 4401, "forbidden": 4403, "rate-limited": 4429, "invalid-request": 4400,
         "stream-unavailable": 4503, "store-unavailable": 4503}


def install_stream(app: FastAPI, gw: Gateway, identify: Callable[..., Principal]) -> None:
    """``/api/v1/stream``: the WebSocket stream (``serve.stream``; viewer and above)."""
    from cluster.adapters.live import TOPICS
    from serve.stream import StreamUnavailable, parse_filter, serve_client

    cfg = gw.settings.gateway

    async def refuse(ws: WebSocket, slug: str, detail: str, **extra: Any) -> None:
        with contextlib.suppress(Exception):
            await ws.send_text(json.dumps({"type": "error", "problem": document(slug, detail, ws.url.path, **extra)}))
            await ws.close(code=CLOSE.get(slug, 4500), reason=PROBLEMS[slug][1][:120])

    authenticating = asyncio.Semaphore(16)  # connections not yet authenticated, per replica (each may hold a frame)

    async def credentials(ws: WebSocket) -> str | None:
        """The key or token in the headers or the subprotocols offered (what a browser can set),
        else, with ``gateway.stream_auth_message``, in the first message: a short one, within 5 s
        (anything else is no credentials). Without that setting no frame is read before then."""
        presented = presented_in(ws.headers) or offered_bearer(ws.scope)
        if presented:
            return presented
        if not cfg.stream_auth_message:
            return None
        if authenticating.locked():
            raise Problem("stream-unavailable", "too many connections are authenticating: try again shortly")
        async with authenticating:
            try:
                first = await asyncio.wait_for(ws.receive_text(), 5.0)
            except (TimeoutError, KeyError):
                return None
        if len(first) > 8192:
            return None
        try:
            doc = json.loads(first)
        except (ValueError, RecursionError):
            return None
        token = doc.get("token") if isinstance(doc, dict) and doc.get("type") == "auth" else None
        return token if isinstance(token, str) and len(token) <= 4096 else None

    @app.websocket(f"{API}/stream", name="stream")
    async def stream(ws: WebSocket) -> None:
        # the subprotocol chosen is "octet" when offered (a browser that offered some fails without
        # one chosen); the one that carries the token is never echoed
        protocols = offered(ws.scope)
        await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in protocols else None)
        if offered_bearer(ws.scope) and SUBPROTOCOL not in protocols:
            # a browser offering protocols fails a connection on which none was chosen: say why to others
            return await refuse(ws, "invalid-request", f"offer the subprotocol {SUBPROTOCOL!r} with "
                                                      f"'{BEARER_PROTOCOL}<token>'")
        q = ws.query_params
        try:
            topics = parse_filter(q.get("topics"), TOPICS, "topics")
            accounts = parse_filter(q.get("accounts"), None, "accounts")
            after = int(q["after"]) if q.get("after") not in (None, "") else None
            if after is not None and not 0 <= after < 2**63:
                raise ValueError("after: a seq the stream gave (0 or more)")
            epoch = q.get("epoch")
        except ValueError as exc:
            detail = str(exc) if str(exc).startswith(("topics", "accounts", "after:")) else "after: a whole number"
            return await refuse(ws, "invalid-request", detail)
        try:
            presented = await credentials(ws)
            who = await run_in_threadpool(identify, presented)
            if not who.may("viewer"):
                raise Problem("forbidden", "the stream needs the viewer role")
        except Problem as p:
            return await refuse(ws, p.slug, p.detail)
        except (WebSocketDisconnect, RuntimeError):
            return  # the client went away before it said who it is
        hub = gw.stream_hub()
        if hub is None:
            return await refuse(ws, "stream-unavailable", "the desk's live state is not in Redis here (runtime.live: "
                                                          "redis in octet.yaml); the REST routes still answer")
        try:
            c, dispatched = await hub.join(topics, accounts)
        except OverflowError as exc:
            return await refuse(ws, "stream-unavailable", str(exc))
        except StreamUnavailable as exc:
            return await refuse(ws, "stream-unavailable", str(exc))
        try:
            now_epoch, now_seq, oldest = await hub.state()
            await ws.send_text(json.dumps({"type": "hello", "epoch": now_epoch, "seq": now_seq, "oldest": oldest,
                                           "topics": sorted(topics), "accounts": sorted(accounts),
                                           "queue": cfg.stream_queue, "credit": cfg.stream_queue,
                                           "ack": 'send {"type": "ack", "seq": <the last seq read>} at least every '
                                                  f'{max(1, cfg.stream_queue // 2)} messages',
                                           "who": who.name, "role": who.role}))
            if after is not None:
                why = ("the epoch differs: the live store was restarted" if epoch != now_epoch else
                       "after is beyond the stream's last seq" if after > now_seq else
                       f"seq {after + 1}.. is no longer in the window (it starts at {oldest})"
                       if after + 1 < oldest else "")
                if why:
                    await ws.send_text(json.dumps({"type": "reload", "reason": why + ": read the state again; "
                                                   "the stream carries on from here"}))
                else:
                    expect = after + 1
                    async for chunk in hub.replay(after, dispatched):  # a chunk at a time, sent as read
                        if chunk[0][0] != expect:
                            break
                        for n, raw in chunk:
                            head = json.loads(raw)
                            if c.wants(head.get("topic", ""), head.get("account")):
                                await ws.send_text(raw)
                            expect = n + 1
                    if expect <= dispatched:  # the window moved on while it was read: say so, never skip
                        await ws.send_text(json.dumps({"type": "reload", "reason": f"seq {expect}.. left the "
                                                       "window while it was read: read the state again; the stream "
                                                       "carries on from here"}))
                    c.skip_upto = max(after, dispatched)

            async def still_allowed() -> str:
                try:
                    await run_in_threadpool(identify, presented, False)
                    return ""
                except Problem as p:
                    return p.slug if p.slug != "store-unavailable" else ""  # a store that blinks ends no stream

            ended = await serve_client(ws, c, still_allowed)
            if ended in CLOSE:
                await refuse(ws, ended, "the key was revoked or the token expired" if ended == "unauthorized" else "")
            elif ended == "reload":
                await ws.close(code=4000, reason="reload")
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away
        except Exception:  # never a traceback to the client; the log has it
            log.exception("stream error")
            await refuse(ws, "internal", "the stream failed; it is logged: reconnect with after=<your last seq>")
        finally:
            hub.leave(c)


def _bars_view(gw: Gateway, symbol: str, seconds: int, from_ns: int | None, to_ns: int | None, limit: int,
               run_id: str | None) -> dict[str, Any]:
    """The bars route's answer: the stored bars, the detector's structure over them, the run's signals."""
    from decimal import Decimal

    import polars as pl

    from trading.wyckoff.detector import detect

    inst = gw.settings.registry()[symbol]
    digits = inst.price_precision
    rows, more = gw.reader.bars(symbol, seconds, from_ns, to_ns, limit)

    def price(points: int, places: int = digits) -> str:  # (detector prices carry one digit more)
        return str(inst.price_from_points(points) if places == digits else Decimal(int(points)).scaleb(-places))

    out: dict[str, Any] = {"symbol": symbol, "seconds": seconds, "run_id": run_id, "truncated": more, "items": [],
                           "ranges": [], "events": [], "signals": [], "detected_signals": 0}
    if not rows:
        return out
    scale = 10 ** digits
    starts = [r["ts_ns"] for r in rows]
    frame = pl.DataFrame({"start_ns": starts, "end_ns": [t + seconds * 1_000_000_000 for t in starts],
                          **{k: [r[k] / scale for r in rows] for k in ("open", "high", "low", "close")},
                          "volume": [float(r["volume"]) for r in rows]})
    found = detect(frame, symbol, digits, gw.settings.wyckoff_params(), inst)
    phases = found.phase_names()
    out["items"] = [{"start_ns": r["ts_ns"], "open": price(r["open"]), "high": price(r["high"]),
                     "low": price(r["low"]), "close": price(r["close"]), "volume": int(r["volume"]),
                     "phase": phases[i]} for i, r in enumerate(rows)]
    ends = found.columns.cols["t"]
    for rg in found.ranges:
        if rg.climax is None or rg.far is None:
            continue  # not proven a range (a pause in a trend): nothing to draw
        out["ranges"].append({"kind": rg.kind, "context": rg.context, "start_ns": rg.climax.bar_ts_ns,
                              "end_ns": int(ends[rg.end]) if rg.end >= 0 else None,
                              "support": price(rg.support, digits + 1), "resistance": price(rg.resistance, digits + 1),
                              "phase": rg.phase, "direction": rg.direction})
    out["events"] = [{"event": e.event, "bar_ts_ns": e.bar_ts_ns, "known_ns": e.known_ns, "price": e.price,
                      **dict(e.numbers)} for e in found.events]
    out["detected_signals"] = len(found.signals)
    if run_id is not None:
        out["signals"] = gw.reader.signals_between(run_id, symbol, starts[0], starts[-1] + seconds * 1_000_000_000)
    return out


VERIFY_KEPT_S = 60.0  # a verdict of GET /audit/verify is given again for this long: a walk of a long chain takes seconds


def _verify(gw: Gateway) -> dict[str, Any]:
    from cluster.storage import anchors as anchoring
    from cluster.storage import audit
    from trading.market import utc_text

    kept = f"walked at {utc_text(time.time_ns())}; asked again within {VERIFY_KEPT_S:.0f} s, this verdict is given"

    settings = gw.settings
    log_path, key_path = anchoring.log_path(settings), anchoring.key_path(settings)
    engine = gw.reader.engine
    if not log_path.exists() or not key_path.exists():
        v = audit.verify(engine)
        note = "no anchor log or key: the chain alone was checked (a deleted or recomputed tail would go unnoticed)"
        return {"ok": v.ok, "records": v.records, "first_bad": v.first_bad, "reason": v.reason, "anchored_to": None,
                "problems": [] if v.ok else [v.reason], "notes": [note, kept]}
    try:
        rep = anchoring.check(engine, log_path, anchoring.load_key(key_path))
    except anchoring.AuditKeyError as exc:  # nothing to hold the chain against, or a key that cannot be trusted
        raise Problem("audit-unverifiable", str(exc)) from None
    return {"ok": rep.ok, "records": rep.chain.records, "first_bad": rep.first_bad, "reason": rep.chain.reason,
            "anchored_to": rep.anchored_to, "problems": list(rep.problems)[:100], "notes": [*rep.notes, kept]}
