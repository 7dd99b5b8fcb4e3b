"""Errors as RFC 9457 problem details (``application/problem+json``), each with a stable ``type``.

A client branches on ``type`` (``urn:octet:problem:<slug>``), never on the wording of ``title`` or
``detail``. Nothing of the server's inside (a traceback, a SQL statement, a path) is ever in one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("octet.gateway")

# slug -> (status, title): the problems the API answers with
PROBLEMS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "Credentials are missing or not valid"),
    "forbidden": (403, "Your role may not do this"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed"),
    "invalid-request": (422, "The request is not valid"),
    "rate-limited": (429, "Too many requests"),
    "too-large": (413, "The request's body is too large"),
    "conflict": (409, "The request conflicts with the desk's state"),
    "desk-unavailable": (503, "The desk is not running"),
    "store-unavailable": (503, "The store cannot be reached"),
    "audit-unverifiable": (503, "The audit trail cannot be verified here"),
    "stream-unavailable": (503, "The live stream is not available"),
    "sessions-unavailable": (503, "Sessions cannot be started here"),
    "timeout": (504, "The desk did not answer in time"),
    "internal": (500, "Internal error"),
}


def type_of(slug: str) -> str:
    return f"urn:octet:problem:{slug}"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, slug: str, detail: str = "", headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        assert slug in PROBLEMS, slug
        super().__init__(detail or PROBLEMS[slug][1])
        self.slug, self.detail, self.headers, self.extra = slug, detail, headers or {}, extra

    @property
    def status(self) -> int:
        return PROBLEMS[self.slug][0]


def document(slug: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    status, title = PROBLEMS[slug]
    doc = {"type": type_of(slug), "title": title, "status": status, "instance": instance}
    if detail:
        doc["detail"] = detail
    return {**doc, **extra}


def respond(slug: str, detail: str, request: Request, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    return JSONResponse(document(slug, detail, request.url.path, **extra), status_code=PROBLEMS[slug][0],
                        media_type=MEDIA_TYPE, headers=headers)


_BY_STATUS = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
              409: "conflict", 413: "too-large", 422: "invalid-request", 429: "rate-limited"}


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return respond(exc.slug, exc.detail, request, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": str(e.get("msg", ""))}
                  for e in exc.errors()][:20]
        detail = "; ".join(f"{e['where']}: {e['problem']}" for e in errors)
        return respond("invalid-request", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _BY_STATUS.get(exc.status_code, "internal" if exc.status_code >= 500 else "invalid-request")
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else ""
        return respond(slug, detail, request, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("gateway error on %s %s", request.method, request.url.path)
        return respond("internal", "the server failed on this request; it is logged", request)


MAX_BODY = 64 * 1024  # bytes: the API's bodies are a few hundred


class _TooLarge(StarletteHTTPException):
    """Raised while a body arrives (FastAPI passes an HTTP exception through its body parsing)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"at most {limit:,} bytes")


class ApiHeaders:
    """ASGI middleware: every answer under /api (data, problems) is not to be stored by a browser or a shared cache,
    nor read as another type than it says (the dashboard's pages set their own, in ``serve.ui``)."""

    HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers") or ()}
                message = {**message, "headers": [*(message.get("headers") or ()),
                                                   *((k, v) for k, v in self.HEADERS if k not in have)]}
            await send(message)

        await self.app(scope, receive, sending)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused (413, a problem document) as
    soon as it is known to be, by its Content-Length or while it arrives, before the route reads it
    or anyone is authenticated (the app reads a body whole before its dependencies run: a large one
    would otherwise be held in memory first)."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.limit):
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, sending)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Any, send: Any) -> None:
        body = json.dumps(document("too-large", f"at most {self.limit:,} bytes", scope.get("path", ""))).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
