"""Parts of the gateway that need no server: the read cache's bounds, the key book's cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cluster.storage.store import SessionStore
from serve.app import ReadCache
from serve.keys import KeyBook, add_key, revoke_key


def test_a_view_is_answered_stale_only_for_a_while_then_the_stores_failure_shows() -> None:
    """A store that goes down: the last view is answered while a fresh one is tried, but not
    after ttl + stale; then the failure reaches the caller (a 503 in the app), not an old answer."""
    cache = ReadCache(ttl=0.05, stale=0.2)
    up = True

    async def compute() -> bytes:
        if not up:
            raise ConnectionError("store down")
        return b"view"

    async def run() -> None:
        nonlocal up
        assert await cache.get("k", compute) == b"view"
        up = False
        await asyncio.sleep(0.08)  # past ttl, within ttl + stale
        assert await cache.get("k", compute) == b"view"
        await asyncio.sleep(0.25)  # past ttl + stale
        with pytest.raises(ConnectionError):
            await cache.get("k", compute)
        up = True
        assert await cache.get("k", compute) == b"view"

    asyncio.run(run())


def test_the_read_cache_holds_a_bounded_number_of_bytes() -> None:
    cache = ReadCache(ttl=60, budget=10_000)

    async def run() -> None:
        for i in range(100):
            async def big() -> bytes:
                return b"x" * 1_000
            await cache.get(("equity", i), big)
            assert cache.bytes <= 10_000

    asyncio.run(run())


def test_a_flood_of_made_up_keys_costs_the_store_a_query_a_reread(tmp_path: Path) -> None:
    """Made-up key ids are refused from the rows held: the key table is read again for an id not
    held ``burst`` times, then at most every ``reread`` seconds, not once per made-up id. Real keys
    keep working, and a key made meanwhile works once a reread comes round."""
    store = SessionStore.sqlite(tmp_path)
    _, key = add_key(store.engine, "real", "viewer", by="tests")
    book = KeyBook(store.engine, ttl=60, reread=1.0, burst=3)
    assert not book.known(key)
    assert book.check_key(key) is not None and book.reads == 1
    assert book.known(key)  # its row is held now: checked without a query
    t = time.monotonic()
    for i in range(1_000):  # a flood of ids that do not exist
        assert book.check_key(f"okt_{i:012x}_" + "A" * 43) is None
    assert book.reads <= 1 + 3 + 1 + (time.monotonic() - t) / 1.0, book.reads
    assert book.known(key) and book.check_key(key) is not None
    assert book.known("garbage") and book.known("a.b.c")  # refused without a query
    _, later = add_key(store.engine, "later", "trader", by="tests")  # made after the flood spent the rereads
    assert book.known(later) and book.check_key(later) is None
    time.sleep(1.0)
    assert not book.known(later)  # a reread has come round
    found = book.check_key(later)
    assert found is not None and found.role == "trader"
    t = time.monotonic()
    assert book.check_key(key) is not None and time.monotonic() - t < 0.01
    store.close()


def test_a_key_made_while_the_rows_are_held_works_at_once(tmp_path: Path) -> None:
    store = SessionStore.sqlite(tmp_path)
    _, first = add_key(store.engine, "first", "viewer", by="tests")
    book = KeyBook(store.engine, ttl=60)
    assert book.check_key(first) is not None
    _, second = add_key(store.engine, "second", "admin", by="tests")
    assert not book.known(second)
    assert book.check_key(second) is not None and book.reads == 2
    store.close()


def test_a_revoked_key_is_refused_once_the_rows_are_read_again(tmp_path: Path) -> None:
    store = SessionStore.sqlite(tmp_path)
    _, key = add_key(store.engine, "soon-gone", "admin", by="tests")
    book = KeyBook(store.engine, ttl=0.3, reread=0.1)
    assert book.check_key(key) is not None
    revoke_key(store.engine, "soon-gone")
    time.sleep(0.3)
    assert book.check_key(key) is None
    store.close()


def _app(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    from cluster.config.settings import load_settings
    from serve.app import build_app
    from tests.conftest import ROOT

    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path), **overrides)
    store = SessionStore.sqlite(tmp_path)
    keys = {role: add_key(store.engine, f"k-{role}", role, by="tests")[1] for role in ("viewer", "admin")}
    return build_app(settings, store.engine), keys, store


def test_a_key_over_its_rate_is_answered_429_with_retry_after(tmp_path: Path) -> None:
    """(The app as Serve runs it, called in-process: the limit is the app's, per replica.)"""
    from starlette.testclient import TestClient

    app, keys, store = _app(tmp_path, gateway__rate_limit_per_minute=60)  # bursts of 10, then 1 a second
    with TestClient(app) as c:
        codes = [c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"]}).status_code for _ in range(12)]
        assert codes[:10] == [200] * 10 and codes[10:] == [429, 429]
        r = c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"]})
        assert r.status_code == 429 and r.json()["type"] == "urn:octet:problem:rate-limited"
        assert 1 <= int(r.headers["retry-after"]) <= 2
        assert c.get("/api/v1/whoami", headers={"X-API-Key": keys["admin"]}).status_code == 200  # per key
        time.sleep(1.1)
        assert c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"]}).status_code == 200
    store.close()


def test_a_body_over_the_limit_is_refused_before_anyone_is_authenticated(tmp_path: Path) -> None:
    """By its Content-Length, or while it arrives with none (chunked), a body over MAX_BODY is 413,
    a problem document, even without credentials (the app would read it whole before the key)."""
    from starlette.testclient import TestClient

    from serve.problems import MAX_BODY

    app, keys, store = _app(tmp_path)
    big = b"{" + b" " * MAX_BODY + b"}"

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    with TestClient(app) as c:
        for headers in ({}, {"X-API-Key": keys["admin"]}):
            r = c.post("/api/v1/desk/halt", content=big, headers={**headers, "Content-Type": "application/json"})
            assert r.status_code == 413 and r.json()["type"] == "urn:octet:problem:too-large", r.text
            r = c.post("/api/v1/desk/halt", content=chunks(), headers={**headers, "Content-Type": "application/json"})
            assert "content-length" not in r.request.headers
            assert r.status_code == 413 and r.json()["type"] == "urn:octet:problem:too-large", r.text
        small = c.post("/api/v1/desk/halt", json={"reason": "x" * 400}, headers={"X-API-Key": keys["admin"]})
        assert small.json()["type"] == "urn:octet:problem:desk-unavailable", small.text  # read, then no desk
    store.close()


def test_an_orders_story_is_of_one_run_the_latest_unless_one_is_asked_for(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from cluster.storage import audit
    from cluster.storage.audit import Entry

    app, keys, store = _app(tmp_path)
    with store.engine.begin() as conn:  # the same client order id placed by two runs
        audit.append(conn, "ra", [Entry("order", 1, {"lots": "0.10"}, "s1", "oc-1", "acc")])
        audit.append(conn, "rb", [Entry("order", 2, {"lots": "0.20"}, "s1", "oc-1", "acc")])
    viewer = {"X-API-Key": keys["viewer"]}
    with TestClient(app) as c:
        latest = c.get("/api/v1/orders/oc-1/story", headers=viewer)
        assert latest.status_code == 200 and [r["run_id"] for r in latest.json()["items"]] == ["rb"]
        asked = c.get("/api/v1/orders/oc-1/story", params={"run": "ra"}, headers=viewer)
        assert asked.status_code == 200 and [r["run_id"] for r in asked.json()["items"]] == ["ra"]
        other = c.get("/api/v1/orders/oc-1/story", params={"run": "rz"}, headers=viewer)
        assert other.status_code == 404 and "in run 'rz'" in other.json()["detail"]
        assert c.get("/api/v1/orders/oc-1/story", params={"run": "x" * 33}, headers=viewer).status_code == 422
    store.close()


def test_cors_allows_only_the_configured_origins(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    app, keys, store = _app(tmp_path, gateway__cors_origins=["https://desk.example"])
    with TestClient(app) as c:
        ok = c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"], "Origin": "https://desk.example"})
        assert ok.headers.get("access-control-allow-origin") == "https://desk.example"
        other = c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"], "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        pre = c.options("/api/v1/desk/halt", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers
        pre = c.options("/api/v1/desk/halt", headers={"Origin": "https://desk.example",
                                                      "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://desk.example"
    store.close()
    app, keys, store = _app(tmp_path / "closed")  # none configured: no browser origin at all
    with TestClient(app) as c:
        r = c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"], "Origin": "https://desk.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    store.close()


def test_revoking_by_a_name_two_live_keys_share_revokes_neither(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from serve.keys import KeyProblem, keys_table, list_keys, revoke_key

    store = SessionStore.sqlite(tmp_path)
    first, _ = add_key(store.engine, "ops", "admin", by="tests")
    with store.engine.begin() as conn:  # a second live "ops", as two `users add` racing could leave
        conn.execute(insert(keys_table).values(key_id="0123456789ab", name="ops", role="viewer",
                                               secret_sha256="0" * 64, created_ns=1, created_by="x", revoked_ns=None))
    with pytest.raises(KeyProblem, match="give the key id"):
        revoke_key(store.engine, "ops")
    assert all(r["revoked_ns"] is None for r in list_keys(store.engine))
    assert revoke_key(store.engine, "0123456789ab")["role"] == "viewer"  # by id: exactly that one
    assert revoke_key(store.engine, "ops")["key_id"] == first.key_id  # now the name is one key's
    with pytest.raises(KeyProblem, match="look like a key id"):
        add_key(store.engine, "abcdef012345", "viewer", by="tests")
    store.close()


# --- the stream's hub and publisher, on a real Redis (no Serve) -------------------------------------

def _publish_n(live, n: int, start: int = 0, per: int = 500) -> None:  # type: ignore[no-untyped-def]
    from cluster.adapters.live import Publication, message

    for a in range(start, start + n, per):
        p = Publication("run1", a)
        p.messages = [("fills", "", message("fills", {"n": i}, "acc")) for i in range(a, min(start + n, a + per))]
        live.publish(p)
    assert live.errors == 0, live.last_error


def test_a_batch_the_script_applied_is_not_sent_again_when_retried(redis_server, registry) -> None:  # type: ignore[no-untyped-def]
    """A publish whose reply was lost is retried: the script applies a publisher's batch once."""
    from cluster.adapters.live import APPLIED, EPOCH, SEQ, STREAM, RedisLive, message

    live = RedisLive(redis_server.url, registry, throttle_ms=0)
    live.client.flushall()
    body = message("fills", {"n": 1}, "acc")
    args = [STREAM, 100, live.publisher, 7, 0, body, body]
    assert live.send(keys=[SEQ, STREAM, EPOCH, APPLIED], args=args) == 2
    assert live.send(keys=[SEQ, STREAM, EPOCH, APPLIED], args=args) == -1  # the retry: nothing sent
    assert live.client.xlen(STREAM) == 2 and live.client.get(SEQ) == "2"
    assert live.send(keys=[SEQ, STREAM, EPOCH, APPLIED], args=[*args[:3], 8, 2, body]) == 3  # the next batch


def test_a_counter_restored_from_an_older_snapshot_starts_a_new_epoch(redis_server, registry) -> None:  # type: ignore[no-untyped-def]
    from cluster.adapters.live import EPOCH, SEQ, STREAM, RedisLive

    live = RedisLive(redis_server.url, registry, throttle_ms=0)
    live.client.flushall()
    _publish_n(live, 80)
    epoch = live.client.get(EPOCH)
    assert live.last_seq == 80
    live.client.set(SEQ, 50)  # Redis came back from a snapshot taken at 50 (its epoch unchanged)
    time.sleep(0.002)
    _publish_n(live, 10, start=80)
    assert live.client.get(EPOCH) != epoch, "numbers 51.. would be given twice under one epoch"
    assert [e[0] for e in live.client.xrange(STREAM)] == [f"{n}-0" for n in range(1, 11)]


def test_the_hub_serves_a_burst_to_a_fast_client_whole_and_tells_clients_of_a_renumbering(redis_server,  # type: ignore[no-untyped-def]
                                                                                           registry) -> None:
    """A burst of 3,000 messages reaches a client that reads as fast as it can, whole (the hub lets
    the client's writer run during it); a counter restored from a snapshot tells it to reload."""
    import json

    from cluster.adapters.live import EPOCH, SEQ, RedisLive
    from serve.stream import Hub, pump

    live = RedisLive(redis_server.url, registry, throttle_ms=0, window=10_000)
    live.client.flushall()

    async def run() -> tuple[list[str], str]:
        hub = Hub(redis_server.url, queue_size=1_000, max_clients=10)
        c, _ = await hub.join(frozenset({"fills"}), frozenset())
        got: list[str] = []

        async def send(raw: str) -> None:
            got.append(raw)
            if raw.startswith('{"seq":'):
                c.ack(json.loads(raw)["seq"])  # a fast client acknowledges what it read

        async def allowed() -> str:
            return ""

        writer = asyncio.ensure_future(pump(send, c, allowed))
        await asyncio.to_thread(_publish_n, live, 3_000, 0, 3_000)  # one publish of 3,000
        for _ in range(100):
            if len(got) >= 3_000:
                break
            await asyncio.sleep(0.05)
        live.client.set(SEQ, 1_000)  # restored from an older snapshot
        await asyncio.to_thread(_publish_n, live, 5, 3_000)
        ended = await asyncio.wait_for(writer, 10)
        await hub.close()
        return got, ended

    got, ended = asyncio.run(run())
    seqs = [json.loads(g)["seq"] for g in got if g.startswith('{"seq"')]
    assert seqs[:3_000] == list(range(1, 3_001)), f"{len(seqs)} of 3,000 reached the client"
    assert not [g for g in got if '"lost"' in g]
    assert ended == "reload" and json.loads(got[-1])["type"] == "reload"
    assert live.client.get(EPOCH)


def test_a_key_revoked_while_its_stream_is_busy_still_ends_it() -> None:
    """The writer checks the key every few seconds however busy the stream (a queue that never
    drains must not keep a revoked key's stream open)."""
    from serve.stream import Client, pump

    c = Client(frozenset({"fills"}), frozenset(), size=100)
    sent = 0

    async def send(raw: str) -> None:
        nonlocal sent
        sent += 1
        c.offer(1_000 + sent, raw)  # every message sent brings another: the queue never drains
        await asyncio.sleep(0)

    async def revoked() -> str:
        return "unauthorized"

    async def run() -> tuple[str, float]:
        c.offer(1, "{}")
        began = time.monotonic()
        why = await asyncio.wait_for(pump(send, c, revoked, recheck_s=0.2), 5)
        return why, time.monotonic() - began

    why, took = asyncio.run(run())
    assert why == "unauthorized" and took < 1.0 and sent > 10


def test_a_client_that_does_not_acknowledge_is_sent_no_more_than_its_credit() -> None:
    """Behind a proxy that buffers (Serve's), a send never blocks: the server sends at most its
    queue's worth beyond the last ack, and what comes meanwhile is dropped and counted."""
    from serve.stream import Client, pump

    c = Client(frozenset({"fills"}), frozenset(), size=50)
    sent: list[str] = []

    async def send(raw: str) -> None:
        sent.append(raw)

    async def allowed() -> str:
        return ""

    async def run() -> None:
        writer = asyncio.ensure_future(pump(send, c, allowed, recheck_s=0.1))
        for n in range(1, 1001):
            c.offer(n, f'{{"seq":{n}}}')
            if n % 10 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        assert len(sent) == 50 and len(c.queue) <= 51  # the credit, and a bounded queue
        c.ack(50)  # it read them all: 50 more may go
        await asyncio.sleep(0.2)
        writer.cancel()

    asyncio.run(run())
    seqs = [int(s[7:-1]) for s in sent if s.startswith('{"seq":')]
    assert seqs[:50] == list(range(1, 51)) and 50 < len(sent) <= 101
    assert c.lost_total + len(c.queue) + len(sent) >= 1000 - 1  # each message sent, queued, or counted lost


HAPROXY_CONFIG = """global
    stats socket {d}/admin.sock mode 666 level admin expose-fd listeners
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend prometheus
    bind :9101
    mode http
    http-request use-service prometheus-exporter if {{ path /metrics }}
    no log
frontend http_frontend
    bind *:18000
    default_backend api
backend api
    server r1 127.0.0.1:30000
listen stats
  bind *:8404
  stats enable
  stats uri /stats
"""


def test_haproxy_is_run_with_its_stats_and_metrics_on_loopback_and_the_api_where_it_was_put(tmp_path: Path) -> None:
    """serve/haproxy.sh (what Serve runs as haproxy) rebinds the stats page and the Prometheus
    exporter, which Ray's template puts on every interface, to 127.0.0.1, leaves the API's frontend
    where gateway.host put it (every interface here), and the real haproxy accepts the result; a
    stats bind it cannot keep to loopback is refused, and the configuration is left as it was."""
    import subprocess

    from serve.deploy import haproxy_binary

    script = Path(__file__).resolve().parents[2] / "serve" / "haproxy.sh"
    assert haproxy_binary(), "make test installs haproxy (haproxy-deps)"
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CONFIG.format(d=tmp_path))
    done = subprocess.run([str(script), "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    binds = [line.strip() for line in cfg.read_text().splitlines() if line.strip().startswith("bind")]
    assert binds == ["bind 127.0.0.1:9101", "bind *:18000", "bind 127.0.0.1:8404"]
    assert (cfg.stat().st_mode & 0o077) == 0

    elsewhere = HAPROXY_CONFIG.format(d=tmp_path).replace("bind *:8404", "bind 10.1.2.3:8404")
    cfg.write_text(elsewhere)
    refused = subprocess.run([str(script), "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "cannot keep to loopback" in refused.stderr, refused
    assert cfg.read_text() == elsewhere
    assert not list(tmp_path.glob("haproxy.cfg.octet.*"))


def test_a_server_process_freezes_its_start_up_heap_unless_told_not_to(tmp_path: Path) -> None:
    """``uvicorn --factory serve.asgi:app`` (the gateway without Serve): with ``gateway.gc_freeze``
    the objects the built process holds are frozen (full collections skip them); without, none is."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = ("import gc, os\n"
              "from serve.asgi import app\n"
              "os.environ['OCTET_GATEWAY__GC_FREEZE'] = 'false'; app(); off = gc.get_freeze_count()\n"
              "os.environ['OCTET_GATEWAY__GC_FREEZE'] = 'true'; app(); print(off, gc.get_freeze_count())\n")
    env = {**os.environ, "OCTET_CONFIG": str(ROOT / "octet.yaml"), "OCTET_RUNTIME__DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    off, on = (int(k) for k in out.stdout.split())
    assert off == 0
    assert on > 50_000  # the imports and the app: ~190,000 objects here


def within(seconds: float, call: Callable[[], str]) -> str:
    """``call()``'s result (or what it raised), or a failure after ``seconds`` (the test client's
    receive has no timeout)."""
    import threading
    from concurrent.futures import Future

    done: Future[str] = Future()

    def attempt() -> None:
        try:
            done.set_result(call())
        except BaseException as e:  # raised in the caller's thread, as if called there
            done.set_exception(e)

    threading.Thread(target=attempt, daemon=True).start()
    try:
        return done.result(seconds)
    except TimeoutError:
        pytest.fail(f"no answer within {seconds} s")


def test_a_browser_authenticates_the_stream_by_subprotocol_and_no_frame_is_read_before_it(tmp_path: Path) -> None:
    """A browser cannot set headers on a WebSocket: it offers ``octet`` and ``octet.bearer.<key>``;
    the server chooses ``octet`` (never echoing the token) and knows the caller before it reads any
    frame. Without credentials the stream is refused at once, not after waiting for a first message
    (which it reads only with ``gateway.stream_auth_message``). With no live state here, an
    authenticated caller is told the stream is unavailable; one without credentials, unauthorized."""
    import json

    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    def first(c: TestClient, **kw: object) -> tuple[str, str | None, float]:
        t = time.perf_counter()
        with c.websocket_connect("/api/v1/stream", **kw) as ws:  # type: ignore[arg-type]
            doc = json.loads(ws.receive_text())
            return doc["problem"]["type"].rsplit(":", 1)[-1], ws.accepted_subprotocol, time.perf_counter() - t

    app, keys, store = _app(tmp_path)
    with TestClient(app) as c:
        slug, chosen, _ = first(c, subprotocols=["octet", f"octet.bearer.{keys['viewer']}"])
        assert (slug, chosen) == ("stream-unavailable", "octet"), "authenticated by the subprotocol"
        slug, chosen, _ = first(c, subprotocols=[f"octet.bearer.{keys['viewer']}", "octet"])
        assert (slug, chosen) == ("stream-unavailable", "octet"), "in either order"
        slug, chosen, _ = first(c, subprotocols=["octet", "octet.bearer.not-a-key"])
        assert slug == "unauthorized"
        slug, chosen, _ = first(c, subprotocols=[f"octet.bearer.{keys['viewer']}"])
        assert (slug, chosen) == ("invalid-request", None), "a bearer without octet: a browser would fail it"
        slug, _, took = first(c)
        assert slug == "unauthorized" and took < 2.0, "refused at once: no first message awaited"
        with c.websocket_connect("/api/v1/stream") as ws:
            ws.send_text(json.dumps({"type": "auth", "token": keys["viewer"]}))
            doc = json.loads(ws.receive_text())
            assert doc["problem"]["type"].endswith(":unauthorized"), "a first message is not read by default"
    store.close()
    app, keys, store = _app(tmp_path / "message", gateway__stream_auth_message=True)
    with TestClient(app) as c:
        with c.websocket_connect("/api/v1/stream") as ws:
            ws.send_text(json.dumps({"type": "auth", "token": keys["viewer"]}))
            doc = json.loads(ws.receive_text())
            assert doc["problem"]["type"].endswith(":stream-unavailable"), "read when the setting allows it"
        # a first message that is not a short auth document is no credentials: a problem, never a traceback
        for bad in ("{}", "not json", "[" * 8000, "[" * 100_000, json.dumps({"type": "auth", "token": keys["viewer"],
                                                                  "pad": "x" * 9000})):
            with c.websocket_connect("/api/v1/stream") as ws:
                ws.send_text(bad)
                doc = json.loads(within(10, ws.receive_text))  # a handler that returns silently never answers
                assert doc["problem"]["type"].endswith(":unauthorized"), bad[:40]
                assert "Traceback" not in json.dumps(doc)
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_text()
                assert closed.value.code == 4401, bad[:40]
    store.close()


def test_the_books_amounts_are_plain_decimals_never_exponents(tmp_path: Path) -> None:
    from cluster.config.settings import load_settings
    from serve.app import book_of
    from tests.conftest import ROOT

    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path))
    accounts = [{"account_id": "x", "firm": "ftmo.challenge", "positions": [
        {"symbol": "EURUSD", "side": "BUY", "lots": "1", "price": "1.10000"},
        {"symbol": "USDJPY", "side": "SELL", "lots": "0.01", "price": "150.000"}]}]
    book = book_of(settings, accounts, "r")
    eur = next(c for c in book["by_currency"] if c["currency"] == "EUR")
    assert eur["net"] == "100000"  # 1 lot of 100,000 EUR, not "1E+5"
    texts = str(book)
    assert "E+" not in texts and "E-" not in texts, texts


def test_a_port_another_server_listens_on_is_refused_even_when_it_shares_ports() -> None:
    """Serve's proxy and HAProxy bind with SO_REUSEPORT: a second gateway on the same port would bind
    too and take half the requests. The gateway refuses a port in use before it starts."""
    import socket

    from serve.deploy import GatewayError, check_port

    with socket.socket() as first:
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        with pytest.raises(GatewayError, match=rf"127\.0\.0\.1:{port} is in use: .*--port, gateway\.port"):
            check_port("127.0.0.1", port)
        with pytest.raises(GatewayError, match=rf"0\.0\.0\.0:{port} is in use"):  # every address holds it too
            check_port("0.0.0.0", port)
    check_port("127.0.0.1", port)  # closed: free again (its TIME_WAIT is no owner)
    # an address this host does not have, or a name that does not resolve, is not "in use"
    with pytest.raises(GatewayError, match=rf"cannot listen on 192\.0\.2\.1:{port} \(Cannot assign"):
        check_port("192.0.2.1", port)
    with pytest.raises(GatewayError, match=r"gateway\.host 'no-such-host\.invalid': "):
        check_port("no-such-host.invalid", port)


def test_alerts_not_acknowledged_walk_past_the_acknowledged_in_batches_and_promise_more_only_when_one_stands(
        tmp_path: Path) -> None:
    """1,200 warnings acknowledged, then one not, then one acknowledged: a page of one costs a few queries, not one per
    acknowledged warning (a viewer could make a request run for seconds), and gives no cursor once none is left."""
    from sqlalchemy import event

    from cluster.storage import audit
    from cluster.storage.audit import Entry
    from cluster.storage.models import Run
    from serve.queries import Reader

    store = SessionStore.sqlite(tmp_path)
    with store.engine.begin() as conn:
        conn.execute(Run.__table__.insert().values(run_id="ra", started_ns=0, status="done", settings={}, summary=None,
                                                   recorded_ns=1))
        audit.append(conn, "ra", [Entry("warning", ts, {"rule": "inactivity", "text": f"w{ts}"}) for ts in range(1, 1203)])
        seqs = [r.seq for r in conn.execute(audit.audit.select().where(audit.audit.c.kind == "warning")
                                            .order_by(audit.audit.c.seq))]
        audit.append(conn, "ra", [Entry("operator", 2000, {"action": "ack", "outcome": f"acknowledged warning-{seq}",
                                                           "alert_id": f"warning-{seq}", "who": "w", "reason": "r"})
                                  for i, seq in enumerate(seqs) if i != 1200])
    statements = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(1))
    items, cursor = Reader(store.engine).alerts("ra", True, 1, None)
    assert [i["action"] for i in items] == ["w1201"] and cursor is None, (items, cursor)
    assert len(statements) < 20, f"{len(statements)} queries for a page of one"
    store.close()


def test_alerts_merge_breakers_and_deadline_warnings_by_time_and_page_through_both_whole(tmp_path: Path) -> None:
    from sqlalchemy import func, select
    from starlette.testclient import TestClient

    from cluster.storage import audit
    from cluster.storage.audit import Entry
    from cluster.storage.models import BreakerEventRow, Run

    app, keys, store = _app(tmp_path)
    breaker = BreakerEventRow.__table__
    with store.engine.begin() as conn:  # breakers at 10, 30, 50 (and one closing, not an alert); warnings at 20, 40, 60
        conn.execute(Run.__table__.insert().values(run_id="ra", started_ns=0, status="done", settings={}, summary=None,
                                                   recorded_ns=1))
        for ts, to in ((10, "open"), (30, "open"), (35, "closed"), (50, "open")):
            conn.execute(breaker.insert().values(run_id="ra", tier="account", scope="acc", ts_ns=ts, from_state="closed",
                                                 to_state=to, trigger=f"t{ts}", action="halt"))
        audit.append(conn, "ra", [Entry("warning", 20, {"rule": "inactivity", "account_id": "acc", "due_ns": 99,
                                                        "text": "acc: enter a trade"}, None, None, "acc"),
                                  Entry("warning", 40, {"rule": "news_calendar", "accounts": ["acc", "b"], "due_ns": 98,
                                                        "text": "calendar ends"}),
                                  Entry("warning", 60, {"rule": "inactivity", "account_id": "b", "due_ns": 97,
                                                        "text": "b: enter a trade"}, None, None, "b")])
        audit.append(conn, "rb", [Entry("warning", 15, {"rule": "inactivity", "text": "another run's"}, None, None, "c")])
        other = conn.execute(select(func.max(audit.audit.c.seq))).scalar_one()
        warning_seqs = [r.seq for r in conn.execute(audit.audit.select().where(audit.audit.c.run_id == "ra")
                                                    .order_by(audit.audit.c.seq))]
        audit.append(conn, "ra", [Entry("operator", 45, {"action": "ack", "outcome": f"acknowledged warning-{warning_seqs[1]}",
                                                         "alert_id": f"warning-{warning_seqs[1]}", "who": "api:bob",
                                                         "reason": "loading next week's"})])
        ack_seq = conn.execute(select(func.max(audit.audit.c.seq))).scalar_one()
    viewer = {"X-API-Key": keys["viewer"]}
    with TestClient(app) as c:
        seen, cursor = [], None
        while True:
            page = c.get("/api/v1/alerts", params={"run": "ra", "limit": 2, **({"cursor": cursor} if cursor else {})},
                         headers=viewer)
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        assert [(a["kind"], a["ts_ns"]) for a in seen] == [("breaker", 10), ("warning", 20), ("breaker", 30),
                                                           ("warning", 40), ("breaker", 50), ("warning", 60)]
        first, calendar = seen[1], seen[3]
        assert (first["alert_id"], first["tier"], first["scope"], first["trigger"], first["action"], first["due_ns"]) == \
            (f"warning-{warning_seqs[0]}", "account", "acc", "inactivity", "acc: enter a trade", 99)
        assert (calendar["tier"], calendar["scope"], calendar["accounts"], calendar["acked_by"], calendar["ack_note"]) == \
            ("system", "desk", ["acc", "b"], "api:bob", "loading next week's")
        unacked = c.get("/api/v1/alerts", params={"run": "ra", "unacked": True}, headers=viewer).json()["items"]
        assert [a["ts_ns"] for a in unacked] == [10, 20, 30, 50, 60]
        pages, cursor = [], None  # a page of those not acknowledged is filled past the one that is (40)
        while True:
            page = c.get("/api/v1/alerts", params={"run": "ra", "unacked": True, "limit": 2,
                                                   **({"cursor": cursor} if cursor else {})}, headers=viewer).json()
            pages.append([a["ts_ns"] for a in page["items"]])
            if not (cursor := page["next_cursor"]):
                break
        assert pages == [[10, 20], [30, 50], [60]]
        trader = {"X-API-Key": add_key(store.engine, "k-trader", "trader", by="tests")[1]}
        missing = c.post("/api/v1/alerts/warning-999999/ack", headers=trader, json={"note": "x"})
        assert missing.status_code == 404 and "no alert 'warning-999999'" in missing.json()["detail"]
        assert c.post("/api/v1/alerts/notice-1/ack", headers=trader, json={"note": "x"}).status_code == 422
        assert c.post(f"/api/v1/alerts/warning-0{warning_seqs[0]}/ack", headers=trader,  # one alert, one spelling
                      json={"note": "x"}).status_code == 422
        assert c.get("/api/v1/alerts", params={"run": "ra", "cursor": "WzVd"}, headers=viewer).status_code == 422
    # an acknowledgement goes to the desk's run: an alert of another run, or an operator record's number, is none of it
    from serve.queries import Reader
    reader = Reader(store.engine)
    assert reader.alert_exists(f"warning-{warning_seqs[0]}", "ra") and not reader.alert_exists(f"warning-{other}", "ra")
    assert reader.alert_exists(f"warning-{other}", "rb") and not reader.alert_exists(f"warning-{ack_seq}", "ra")
    store.close()


def test_audit_verify_walks_the_chain_once_for_many_asks_and_names_an_unusable_anchor_log(tmp_path: Path) -> None:
    """A walk of a long chain takes seconds, and any viewer may ask: requests within VERIFY_KEPT_S get the last
    verdict (no query), so a viewer cannot keep the store walking. An anchor log that holds nothing while the store
    has records is a 503 problem naming it (it was a 500)."""
    from sqlalchemy import event
    from starlette.testclient import TestClient

    from cluster.storage import anchors, audit
    from cluster.storage.audit import Entry
    from cluster.storage.models import Run

    app, keys, store = _app(tmp_path)
    with store.engine.begin() as conn:
        conn.execute(Run.__table__.insert().values(run_id="ra", started_ns=0, status="done", settings={}, summary=None,
                                                   recorded_ns=1))
        audit.append(conn, "ra", [Entry("warning", ts, {"rule": "r", "text": "w"}) for ts in range(1, 6)])
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda _c, _cur, sql, *rest: statements.append(sql))
    with TestClient(app) as c:
        first = c.get("/api/v1/audit/verify", headers={"X-API-Key": keys["viewer"]})
        assert first.status_code == 200 and first.json()["ok"] and first.json()["records"] == 5, first.text
        assert any("FROM audit" in q for q in statements)
        assert any(n.startswith("walked at ") for n in first.json()["notes"]), first.json()
        statements.clear()
        for _ in range(3):
            assert c.get("/api/v1/audit/verify", headers={"X-API-Key": keys["viewer"]}).json() == first.json()
        assert not [q for q in statements if "FROM audit" in q], statements
    settings_key = tmp_path / "secrets" / "audit.key"
    anchors.load_key(settings_key, create=True)
    (tmp_path / "audit").mkdir(mode=0o700, exist_ok=True)
    (tmp_path / "audit" / "anchors.jsonl").write_text("")
    from cluster.config.settings import load_settings
    from serve.app import build_app
    from tests.conftest import ROOT

    app = build_app(load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path)), store.engine)  # none kept
    with TestClient(app) as c:
        r = c.get("/api/v1/audit/verify", headers={"X-API-Key": keys["viewer"]})
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["type"] == "urn:octet:problem:audit-unverifiable" and "holds no anchor" in r.json()["detail"]
    store.close()


def test_a_trailing_slash_is_a_404_problem_not_a_redirect_and_no_api_answer_is_stored_or_sniffed(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    app, keys, store = _app(tmp_path)
    with TestClient(app, follow_redirects=False) as c:
        for headers in ({"Host": "evil.example"}, {"Host": "evil.example", "X-API-Key": keys["viewer"]}):
            r = c.get("/api/v1/accounts/", headers=headers)
            assert r.status_code == 404 and "location" not in r.headers, (r.status_code, r.headers)
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
        ok = c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"]})
        assert ok.status_code == 200
        for r in (ok, c.get("/api/v1/accounts/", headers={"Host": "evil.example"}), c.get("/api/v1/whoami")):
            # an answer of the API's, data or problem, is not kept by a browser or a cache, nor sniffed
            assert (r.headers["cache-control"], r.headers["x-content-type-options"]) == ("no-store", "nosniff"), r
    store.close()


def test_a_stream_asked_after_a_number_too_long_to_read_is_refused_in_the_apis_words(tmp_path: Path) -> None:
    """Python's own text ("Exceeds the limit (4300 digits) for integer string conversion") was the detail."""
    import json

    from starlette.testclient import TestClient

    app, _, store = _app(tmp_path)
    with TestClient(app) as c:
        for after, detail in (("9" * 5000, "after: a whole number"), ("x", "after: a whole number"),
                              ("-1", "after: a seq the stream gave (0 or more)")):
            with c.websocket_connect(f"/api/v1/stream?after={after}", subprotocols=["octet"]) as ws:
                doc = json.loads(ws.receive_text())
                assert doc["problem"]["detail"] == detail, doc
                assert doc["problem"]["type"] == "urn:octet:problem:invalid-request"
    store.close()


def test_a_login_key_whose_server_is_gone_is_revoked_at_the_next_serve_start(tmp_path: Path) -> None:
    """`octet serve --login` revokes its key when it stops; killed outright (SIGKILL) it could not, and the admin key
    kept working until a later --login on the same port. A start now revokes those of ports where nothing listens."""
    import socket

    from cluster.cli.serve import BROWSE_KEY, _loopback, _orphaned_login_keys
    from serve.keys import list_keys

    store = SessionStore.sqlite(tmp_path)
    listeners = []  # servers that still run, on loopback, on IPv6's loopback, and on one address of this host
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.2")):
        try:
            s = socket.socket(family)
            s.bind((host, 0))
        except OSError:  # (no IPv6 here)
            continue
        s.listen()
        listeners.append(s)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    gone_port = free.getsockname()[1]
    free.close()
    live_ports, own = [s.getsockname()[1] for s in listeners], 8040
    for port in (gone_port, *live_ports, own):
        add_key(store.engine, f"{BROWSE_KEY}-{port}", "admin", by="octet serve --login")
    add_key(store.engine, "ops-desk", "admin", by="tests")
    try:
        assert _orphaned_login_keys(store.engine, own) == [f"{BROWSE_KEY}-{gone_port}"]
    finally:
        for s in listeners:
            s.close()
    live = {k["name"] for k in list_keys(store.engine) if k["revoked_ns"] is None}
    assert live == {*(f"{BROWSE_KEY}-{p}" for p in live_ports), f"{BROWSE_KEY}-{own}", "ops-desk"}, live
    assert len(listeners) >= 2
    assert [_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "192.0.2.1")] == [
        True, True, True, False, False]
    store.close()
