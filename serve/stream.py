"""The WebSocket stream, ``/api/v1/stream``: the desk's numbered messages (``cluster.adapters.live``)
as they happen, by topic and account, to each client through one Redis subscription per replica.

The protocol (docs/api.md, "The stream"):

- Connect to ``/api/v1/stream?topics=fills,orders&accounts=ACC-1`` (both optional: every topic,
  every account). Credentials as for the REST routes (``Authorization: Bearer ...`` or
  ``X-API-Key``), or, from a browser, as the subprotocols ``octet`` and ``octet.bearer.<token>``
  (with ``gateway.stream_auth_message``, also as the first message: ``{"type": "auth", "token": "..."}``).
- The server says ``{"type": "hello", "epoch": E, "seq": N, ...}``; then each message is
  ``{"seq": n, "at_us": t, "topic": ..., "account": ..., "data": {...}}``, in ``seq`` order.
  Messages without an account (quotes, signals, the desk's status) go to every subscriber.
- A client that reconnects with ``after=<the last seq it saw>&epoch=E`` is sent what it missed
  from the desk's window (``gateway.stream_window`` messages) before anything new; if that is no
  longer in the window, or the epoch changed (Redis lost its data), it is told
  ``{"type": "reload", ...}``: read the state over REST, then carry on from the stream.
- A slow client never grows the server's memory. It acknowledges what it has read
  (``{"type": "ack", "seq": n}``); the server sends at most ``gateway.stream_queue`` messages
  beyond the last acknowledged (a proxy in between, such as Serve's, buffers whatever is sent:
  the socket's own backpressure cannot be relied on). Its queue holds ``gateway.stream_queue``
  messages more; what does not fit is dropped and counted, and once there is room it is told
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
from collections.abc import AsyncIterator, Awaitable, Callable
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
    unacked: deque[int] = field(default_factory=deque)  # seqs sent and not yet acknowledged (at most ``size``)
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self, seq: int) -> None:
        """The client read every message up to ``seq``: that much more may be sent."""
        while self.unacked and self.unacked[0] <= seq:
            self.unacked.popleft()
        self.acked.set()

    def wants(self, topic: str, account: str | None) -> bool:
        return topic in self.topics and (account is None or not self.accounts or account in self.accounts)

    def offer(self, seq: int, raw: str) -> None:
        if self.closing:
            return  # being ended (told to reload): nothing after its notice
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
        self.epoch = ""  # of the numbering last_seq belongs to
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
        await self._ensure_running()
        # counted and added with no await between: joins that waited together above cannot all pass the count
        if len(self.clients) >= self.max_clients:
            raise OverflowError(f"this replica serves {self.max_clients} stream clients at most")
        c = Client(topics, accounts, self.queue_size)
        self.clients.add(c)
        return c, self.last_seq

    def leave(self, c: Client) -> None:
        self.clients.discard(c)

    async def replay(self, after: int, upto: int) -> AsyncIterator[list[tuple[int, str]]]:
        """The window's messages numbered after ``after`` up to ``upto``, in order, a chunk at a time
        (a resume never holds the whole window in memory)."""
        start = after + 1
        while start <= upto:
            entries: Any = await self.redis.xrange(STREAM, f"{start}-0", f"{upto}-0", count=REPLAY_CHUNK)
            if not entries:
                return
            chunk = [(int(str(eid).split("-")[0]), str(fields["m"])) for eid, fields in entries]
            yield chunk
            start = chunk[-1][0] + 1

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
                epoch, seq, _ = await self.state()
                if self.last_seq and epoch == self.epoch and seq >= self.last_seq:
                    await self._fill(seq)  # (re)subscribed: what was sent meanwhile comes from the window
                else:
                    if self.last_seq:  # numbered afresh while unsubscribed (Redis lost or restored its data)
                        self._restarted()
                    self.epoch, self.last_seq = epoch, seq
                self._up.set()
                handled = 0
                while True:
                    msg = await pubsub.get_message(timeout=30.0)
                    if msg is None:
                        continue
                    raw = msg["data"]
                    try:
                        n = int(raw[7:raw.index(",", 7)])  # '{"seq":N,...': the number without parsing the rest
                    except (ValueError, TypeError):
                        log.warning("a message on %s that is not the desk's: ignored", STREAM)
                        continue
                    if n <= self.last_seq:
                        epoch = (await self.state())[0]
                        if epoch == self.epoch:
                            continue  # sent before this replica read the counter: dispatched already
                        self._restarted()  # numbered afresh: a new epoch
                        self.epoch = epoch
                    elif n > self.last_seq + 1:  # a gap (cannot happen on one connection; be sure)
                        await self._fill(n - 1)
                    self._dispatch(n, raw)
                    if not self.epoch:  # subscribed before the first message ever: learn its epoch
                        self.epoch = (await self.state())[0]
                    handled += 1
                    if handled % 64 == 0:
                        await asyncio.sleep(0)  # let the clients' writers run during a burst
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                self._up.clear()
                log.warning("stream subscription lost (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _fill(self, upto: int) -> None:
        """Dispatch what was sent after ``last_seq`` up to ``upto`` from the window; if the window no
        longer holds all of it, every client is told to reload (none is left with a silent gap)."""
        expect = self.last_seq + 1
        async for chunk in self.replay(self.last_seq, upto):
            if chunk[0][0] != expect:
                break
            for n, raw in chunk:
                self._dispatch(n, raw)
            expect = chunk[-1][0] + 1
            await asyncio.sleep(0)
        if expect <= upto:
            self._restarted(f"messages {expect}..{upto} went by while this replica was not subscribed, "
                            "and the window no longer holds them")
            self.last_seq = upto

    def _restarted(self, why: str = "the stream was numbered afresh (the live store lost or restored its data)") -> None:
        self.last_seq = 0
        for c in list(self.clients):
            c.closing = "reload"
            c.notice({"type": "reload", "reason": f"{why}: read the state again, then reconnect without after"})

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
        while c.queue and not c.closing and loop.time() < next_check:
            if c.queue[0][0] and len(c.unacked) >= c.size:  # as much unacknowledged as its queue holds:
                c.acked.clear()                              # wait for an ack (meanwhile the queue fills)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(c.acked.wait(), max(0.0, next_check - loop.time()))
                continue
            seq, raw = c.queue.popleft()
            if seq == 0 or seq > c.skip_upto:
                await send(raw)
                if seq:
                    c.unacked.append(seq)
        if c.closing:
            while c.queue:  # what the hub queued before it ended the client: its notice last
                seq, raw = c.queue.popleft()
                if seq == 0 or seq > c.skip_upto:
                    await send(raw)
            return c.closing
        if loop.time() >= next_check:  # (checked however busy the stream: a busy one drains forever)
            why = await still_allowed()
            if why:
                return why
            next_check = loop.time() + recheck_s


async def serve_client(ws: Any, c: Client, still_allowed: Callable[[], Awaitable[str]]) -> str:
    """Send ``c``'s messages on ``ws`` while reading what the client sends: its acks
    (``{"type": "ack", "seq": n}``) and its close, which nothing else would notice on a quiet
    stream; anything else is ignored. Returns why it ended: "gone" (the client closed), "reload",
    or a problem's slug (its key no longer valid)."""
    async def reader() -> str:
        while True:
            m = await ws.receive()
            if m["type"] == "websocket.disconnect":
                return "gone"
            text = m.get("text")
            if isinstance(text, str) and len(text) <= 256 and '"ack"' in text:
                try:
                    doc = json.loads(text)
                    if isinstance(doc, dict) and doc.get("type") == "ack" and isinstance(doc.get("seq"), int):
                        c.ack(doc["seq"])
                except ValueError:
                    pass

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
