"""The WebSocket stream, ``/api/v1/stream``: the desk's numbered messages (``cluster.adapters.live``)
as they happen, by topic and account, to each client through one Redis subscription per replica.

The protocol (docs/api.md, "The stream"):

- Connect to ``/api/v1/stream?topics=fills,orders&accounts=ACC-1`` (both optional: every topic,
  every account). Credentials as for the REST routes (``Authorization: Bearer ...`` or
  ``X-API-Key``), or, from a browser, as the first message: ``{"type": "auth", "token": "..."}``.
- The server says ``{"type": "hello", "epoch": E, "seq": N, ...}``; then each message is
  ``{"seq": n, "at_us": t, "topic": ..., "account": ..., "data": {...}}``, in ``seq`` order.
  Messages without an account (quotes, signals, the desk's status) go to every subscriber.
- A client that reconnects with ``after=<the last seq it saw>&epoch=E`` is sent what it missed
  from the desk's window (``gateway.stream_window`` messages) before anything new; if that is no
  longer in the window, or the epoch changed (Redis lost its data), it is told
  ``{"type": "reload", ...}``: read the state over REST, then carry on from the stream.
- A slow client never grows the server's memory: its queue holds ``gateway.stream_queue``
  messages; what does not fit is dropped and counted, and once there is room it is told
  ``{"type": "lost", "count": k, "first_seq": a, "last_seq": b}`` in its place (reconnect with
  ``after=a-1`` to fetch them, de-duplicating by ``seq``).
- A key revoked (or a login token expired) while connected closes the stream within seconds
  (code 4401). Errors are problem documents (``{"type": "error", "problem": {...}}``) then a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cluster.adapters.live import EPOCH, SEQ, STREAM

log = logging.getLogger("octet.gateway")
REPLAY_CHUNK = 500  # window entries read per XRANGE


@dataclass(eq=False)  # each client is itself (held in the hub's set)
class Client:
    """One connected client: what it asked for, and its bounded queue of raw messages."""

    topics: frozenset[str]
    accounts: frozenset[str]
    size: int
    queue: deque[tuple[int, str]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lost: int = 0  # dropped since the last notice
    lost_first: int = 0
    lost_last: int = 0
    lost_total: int = 0
    skip_upto: int = 0  # sent already from the window (a client ahead of this replica)
    closing: str = ""  # why the hub ends it ("reload"), once its queue is sent

    def wants(self, topic: str, account: str | None) -> bool:
        return topic in self.topics and (account is None or not self.accounts or account in self.accounts)

    def offer(self, seq: int, raw: str) -> None:
        if self.lost and len(self.queue) <= self.size // 2:  # room again: say what was lost, where it was
            self.report_lost()
        if len(self.queue) >= self.size or self.lost:
            if not self.lost:
                self.lost_first = seq
            self.lost += 1
            self.lost_total += 1
            self.lost_last = seq
            return
        self.queue.append((seq, raw))
        self.wake.set()

    def report_lost(self) -> None:
        """Queue the notice of what was dropped since the last one (where it was in the stream)."""
        self.queue.append((0, json.dumps({"type": "lost", "count": self.lost, "first_seq": self.lost_first,
                                          "last_seq": self.lost_last})))
        self.lost = 0
        self.wake.set()

    def notice(self, doc: dict[str, Any]) -> None:
        """A message of the server's own, ahead of nothing it would drop (it may exceed the queue by one)."""
        self.queue.append((0, json.dumps(doc)))
        self.wake.set()


class StreamUnavailable(RuntimeError):
    """Redis cannot be reached (or the desk does not use it)."""


class Hub:
    """One per replica: one subscription to the desk's channel, fanned out to this replica's
    clients (each message parsed once, whatever the number of clients)."""

    def __init__(self, url: str, queue_size: int, max_clients: int) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2.0,
                                             health_check_interval=10)
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.clients: set[Client] = set()
        self.last_seq = 0  # the last number this replica dispatched
        self.dispatched = 0
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()

    async def state(self) -> tuple[str, int, int]:
        """The stream's epoch, its last number, and the first number still in the window."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(EPOCH)
            pipe.get(SEQ)
            pipe.xrange(STREAM, "-", "+", count=1)
            epoch, seq, first = await pipe.execute()
        oldest = int(first[0][0].split("-")[0]) if first else int(seq or 0) + 1
        return str(epoch or ""), int(seq or 0), oldest

    async def join(self, topics: frozenset[str], accounts: frozenset[str]) -> tuple[Client, int]:
        """A new client, and the last number dispatched before it joined (it is queued what comes after)."""
        if len(self.clients) >= self.max_clients:
            raise OverflowError(f"this replica serves {self.max_clients} stream clients at most")
        await self._ensure_running()
        c = Client(topics, accounts, self.queue_size)
        self.clients.add(c)
        return c, self.last_seq

    def leave(self, c: Client) -> None:
        self.clients.discard(c)

    async def replay(self, after: int, upto: int) -> list[tuple[int, str]]:
        """The window's messages numbered after ``after`` up to ``upto``, in order."""
        out: list[tuple[int, str]] = []
        start = after + 1
        while start <= upto:
            entries: Any = await self.redis.xrange(STREAM, f"{start}-0", f"{upto}-0", count=REPLAY_CHUNK)
            if not entries:
                break
            for eid, fields in entries:
                out.append((int(str(eid).split("-")[0]), str(fields["m"])))
            start = out[-1][0] + 1
        return out

    async def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._up.clear()
            self._task = asyncio.ensure_future(self._run())
        try:
            await asyncio.wait_for(self._up.wait(), 5.0)
        except TimeoutError:
            raise StreamUnavailable("the live store (Redis) cannot be reached") from None

    async def _run(self) -> None:
        import redis

        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(STREAM)
                if self.last_seq:  # (re)subscribed: what was sent meanwhile comes from the window
                    _, seq, _ = await self.state()
                    if seq < self.last_seq:
                        self._restarted()
                    else:
                        for n, raw in await self.replay(self.last_seq, seq):
                            self._dispatch(n, raw)
                else:
                    self.last_seq = (await self.state())[1]
                self._up.set()
                while True:
                    msg = await pubsub.get_message(timeout=30.0)
                    if msg is None:
                        continue
                    raw = msg["data"]
                    seq = int(raw[7:raw.index(",", 7)])  # '{"seq":N,...': the number without parsing the rest
                    if seq <= self.last_seq:
                        self._restarted()  # numbered afresh: a new epoch
                    elif seq > self.last_seq + 1:  # a gap (cannot happen on one connection; be sure)
                        for n, missed in await self.replay(self.last_seq, seq - 1):
                            self._dispatch(n, missed)
                    self._dispatch(seq, raw)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                self._up.clear()
                log.warning("stream subscription lost (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _restarted(self) -> None:
        self.last_seq = 0
        for c in list(self.clients):
            c.closing = "reload"
            c.notice({"type": "reload", "reason": "the stream was numbered afresh (the live store lost its data): "
                                                  "read the state again, then reconnect without after"})

    def _dispatch(self, seq: int, raw: str) -> None:
        self.last_seq = seq
        self.dispatched += 1
        if not self.clients:
            return
        head = json.loads(raw)  # once per replica (the data is passed on as it came)
        topic, account = head.get("topic", ""), head.get("account")
        for c in self.clients:
            if c.wants(topic, account):
                c.offer(seq, raw)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self.redis.aclose()


def parse_filter(raw: str | None, allowed: tuple[str, ...] | None, what: str) -> frozenset[str]:
    """A comma-separated list of ``what`` (all of ``allowed`` when none is given)."""
    items = frozenset(x.strip() for x in (raw or "").split(",") if x.strip())
    if len(items) > 64 or any(len(x) > 64 for x in items):
        raise ValueError(f"{what}: at most 64, of at most 64 characters each")
    if allowed is not None:
        unknown = sorted(items - set(allowed))
        if unknown:
            raise ValueError(f"{what}: unknown {', '.join(unknown)} (choose from {', '.join(allowed)})")
        return items or frozenset(allowed)
    return items


async def pump(send: Callable[[str], Awaitable[None]], c: Client, still_allowed: Callable[[], Awaitable[str]],
               recheck_s: float = 5.0) -> str:
    """Send ``c``'s queue as it fills, until the hub ends it or its key stops being valid
    (checked every ``recheck_s``); returns why it ended."""
    loop = asyncio.get_running_loop()
    next_check = loop.time() + recheck_s
    while True:
        if not c.queue and c.lost:  # a burst dropped its tail and nothing came after: say so now
            c.report_lost()
        if not c.queue:
            c.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(c.wake.wait(), max(0.0, next_check - loop.time()))
        while c.queue:
            seq, raw = c.queue.popleft()
            if seq == 0 or seq > c.skip_upto:
                await send(raw)
        if c.closing:
            return c.closing
        if loop.time() >= next_check:
            why = await still_allowed()
            if why:
                return why
            next_check = loop.time() + recheck_s


async def serve_client(ws: Any, c: Client, still_allowed: Callable[[], Awaitable[str]]) -> str:
    """Send ``c``'s messages on ``ws`` while reading what the client sends (its close, which
    nothing else would notice on a quiet stream; anything else it sends is ignored). Returns why it
    ended: "gone" (the client closed), "reload", or a problem's slug (its key no longer valid)."""
    async def reader() -> str:
        while True:
            m = await ws.receive()
            if m["type"] == "websocket.disconnect":
                return "gone"

    tasks = {asyncio.ensure_future(pump(ws.send_text, c, still_allowed)), asyncio.ensure_future(reader())}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = done.pop()
        return "gone" if first.exception() is not None else str(first.result())
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
