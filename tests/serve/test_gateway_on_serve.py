"""The API gateway over real HTTP, on Ray Serve, over a desk's records in PostgreSQL: every read
route returns what the store holds (page by page), every route is held to its role (enumerated from
the OpenAPI document, so none can be forgotten), errors are problem documents, and a property-based
run of the live schema (schemathesis) finds no server error and no response outside the schema."""

from __future__ import annotations

import socket
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import func, insert, select

from cluster.config.settings import Settings, load_settings
from cluster.desk.session import Session
from cluster.storage import audit
from cluster.storage import models as m
from cluster.storage.store import SessionStore
from serve.keys import ROLES, add_key, revoke_key
from serve.queries import encode_cursor
from tests.conftest import ROOT, fresh_database, replay_ticks

pytestmark = pytest.mark.ray
TICKS = 40_000
API = "/api/v1"
SLOW_QUEUE = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gw_settings(tmp_path_factory, postgres, redis_server) -> Settings:  # type: ignore[no-untyped-def]
    return load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path_factory.mktemp("gw")),
                         session__ticks=TICKS, runtime__store="postgres", runtime__live="redis",
                         storage__url=fresh_database(postgres, "gateway"), storage__redis_url=redis_server.url,
                         gateway__port=free_port(), gateway__rate_limit_per_minute=100_000,
                         gateway__stream_queue=SLOW_QUEUE, storage__record_ticks=True)


@pytest.fixture(scope="module")
def recorded(ray_local, gw_settings: Settings):  # type: ignore[no-untyped-def]
    assert gw_settings.storage.url is not None
    store = SessionStore(gw_settings.storage.url.get_secret_value())
    # no live view here: the stream tests publish this run's records themselves
    result = Session(gw_settings, store, run_id="gw", keep_records=True).run(replay_ticks(gw_settings))
    yield result, store
    store.close()


@pytest.fixture(scope="module")
def keys(recorded) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, store = recorded
    return {role: add_key(store.engine, f"test-{role}", role, by="tests")[1] for role in ROLES}


@pytest.fixture(scope="module")
def base(ray_local, gw_settings: Settings, recorded):  # type: ignore[no-untyped-def]
    from serve.deploy import start, stop

    url = start(gw_settings)
    yield url
    stop()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def walk(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor with small pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(f"{API}{path}", headers=auth(key), params={**params, "limit": 7,
                                                                   **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def as_str(row: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def test_every_read_route_returns_what_the_store_holds(base: str, recorded, keys: dict[str, str],  # type: ignore[no-untyped-def]
                                                       gw_settings: Settings) -> None:
    result, store = recorded
    back = store.read_run("gw")
    viewer = keys["viewer"]
    assert len(result.orders) >= 4 and len(result.trades) >= 4
    with httpx.Client(base_url=base, timeout=30) as c:
        runs = c.get(f"{API}/runs", headers=auth(viewer)).json()["items"]
        assert [r["run_id"] for r in runs] == ["gw"] and runs[0]["ticks"] == TICKS
        # orders: the store's, each with the status of its last report, oldest first
        orders = walk(c, "/orders", viewer)
        last_status: dict[str, str] = {}
        for rep in back["execution_reports"]:
            last_status[rep["client_order_id"]] = rep["status"]
        assert sorted(o["client_order_id"] for o in orders) == sorted(o["client_order_id"] for o in back["orders"])
        by_id = {o["client_order_id"]: as_str(o) for o in back["orders"]}
        for o in orders:
            assert {k: v for k, v in o.items() if k not in ("placed_ns", "status")} == by_id[o["client_order_id"]]
            assert o["status"] == last_status[o["client_order_id"]]
        assert [o["placed_ns"] for o in orders] == sorted(o["placed_ns"] for o in orders)
        # each page names its run, which an order's story takes (the dashboard's blotter links with it)
        for path in ("/orders", "/fills"):
            assert c.get(f"{API}{path}", headers=auth(viewer), params={"limit": 1}).json()["run_id"] == "gw"
        # fills, signals in the order written; trades by close
        assert walk(c, "/fills", viewer) == [as_str(f) for f in back["fills"]]
        assert walk(c, "/signals", viewer) == [as_str(s) for s in back["signals"]]
        trades = sorted((as_str(t) for t in back["trades"]), key=lambda t: (t["closed_ns"], t["position_id"]))
        assert walk(c, "/trades", viewer) == trades
        # filters
        acc = result.orders[0].account_id
        mine = walk(c, "/orders", viewer, account=acc)
        assert mine and {o["account_id"] for o in mine} == {acc}
        assert len(mine) == sum(o["account_id"] == acc for o in back["orders"])
        t0 = orders[len(orders) // 2]["placed_ns"]
        assert walk(c, "/orders", viewer, from_ns=t0) == [o for o in orders if o["placed_ns"] >= t0]
        # the saga's decisions for a signal, and an order's audit story
        sig = result.orders[0].signal_id
        decisions = c.get(f"{API}/signals/{sig}/decisions", headers=auth(viewer)).json()["items"]
        assert decisions == [as_str(d) for d in back["decisions"] if d["signal_id"] == sig]
        coid = result.orders[0].client_order_id
        story = c.get(f"{API}/orders/{coid}/story", headers=auth(viewer)).json()["items"]
        assert [r["seq"] for r in story] == [r.seq for r in audit.story(store.engine, coid)]
        assert [r["kind"] for r in story][:1] == ["signal"] and "order" in [r["kind"] for r in story]
        # accounts: the last equity and headroom rows, the open positions
        accounts = c.get(f"{API}/accounts", headers=auth(viewer)).json()
        assert accounts["run_id"] == "gw"
        assert [a["account_id"] for a in accounts["items"]] == sorted(a.id for a in gw_settings.accounts)
        for a in accounts["items"]:
            eq = [e for e in back["equity_snapshots"] if e["account_id"] == a["account_id"]][-1]
            hr = [h for h in back["headroom"] if h["account_id"] == a["account_id"]][-1]
            assert (a["balance"], a["equity"], a["as_of_ns"]) == (str(eq["balance"]), str(eq["equity"]), eq["ts_ns"])
            assert a["headroom"] == {k: v for k, v in as_str(hr).items() if k != "account_id"}
            assert a["positions"] == [as_str(p) for p in back["positions"] if p["account_id"] == a["account_id"]]
            # the equity curve, downsampled: its last point is the last row, no point above the rows' range
            curve = c.get(f"{API}/accounts/{a['account_id']}/equity", headers=auth(viewer),
                          params={"points": 9}).json()
            rows = [e for e in back["equity_snapshots"] if e["account_id"] == a["account_id"]]
            assert curve["points_in_store"] == len(rows) and 1 <= len(curve["items"]) <= 9
            assert curve["items"][-1]["equity"] == str(rows[-1]["equity"])
            lowest = min(min(e["equity"], e["min_equity"] if e["min_equity"] is not None else e["equity"]) for e in rows)
            assert min(float(p["min_equity"]) for p in curve["items"]) == float(lowest)
        # the book: the same open positions, netted across accounts by instrument and currency
        book = c.get(f"{API}/book", headers=auth(viewer)).json()
        open_rows = back["positions"]
        assert book["run_id"] == "gw" and book["unknown_instruments"] == []
        for sym in {p["symbol"] for p in open_rows}:
            row = next(r for r in book["by_instrument"] if r["symbol"] == sym)
            net = sum(Decimal(str(p["lots"])) * (1 if p["side"] == "BUY" else -1) for p in open_rows
                      if p["symbol"] == sym)
            assert Decimal(row["net_lots"]) == net
        assert sum(f["positions"] for f in book["by_firm"]) == len(open_rows)
        verdict = c.get(f"{API}/audit/verify", headers=auth(viewer)).json()
        with store.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(m.AuditRow.__table__)).scalar()
        assert verdict["ok"] is True and verdict["records"] == n


def test_bars_come_with_the_wyckoff_structure_the_desk_traded_on(base: str, recorded, keys: dict[str, str],  # type: ignore[no-untyped-def]
                                                              gw_settings: Settings) -> None:
    """The bars route gives the store's 1-minute bars (and longer ones made from them), the
    structure the detector finds over them, and the run's signals: the evidence of each signal the
    desk's own analysis agent traded on (live, bar by bar) is among the events the route finds."""
    from decimal import Decimal

    result, store = recorded
    symbol = result.signals[0].symbol
    digits = gw_settings.registry()[symbol].price_precision
    with store.engine.connect() as conn:
        t = m.BarRow.__table__
        rows = conn.execute(select(t).where(t.c.symbol == symbol, t.c.seconds == 60).order_by(t.c.ts_ns)).mappings().all()
    assert 100 < len(rows) < 5000
    with httpx.Client(base_url=base, timeout=60) as c:
        got = c.get(f"{API}/instruments/{symbol}/bars", headers=auth(keys["viewer"]), params={"limit": 5000})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["truncated"] is False and body["run_id"] == "gw"
        assert [(b["start_ns"], b["open"], b["close"], b["volume"]) for b in body["items"]] == \
            [(r["ts_ns"], str(Decimal(r["open"]).scaleb(-digits)), str(Decimal(r["close"]).scaleb(-digits)), r["volume"])
             for r in rows]
        mine = [s for s in result.signals if s.symbol == symbol]
        assert [s["signal_id"] for s in body["signals"]] == [s.signal_id for s in mine]
        found = {(e["event"], e["bar_ts_ns"]) for e in body["events"]}
        for sig in mine:
            events = {(e.event, e.bar_ts_ns) for e in sig.evidence if e.event not in ("structure", "cause")}
            assert events and events <= found, sig.signal_id  # (structure, cause: summaries, not events)
        assert body["ranges"] and all(r["support"] < r["resistance"] for r in body["ranges"])
        assert {b["phase"] for b in body["items"]} - {""} <= {"A", "B", "C", "D", "E"}
        # hourly bars from the minutes: each the span's open, high, low, close and summed volume
        hours = c.get(f"{API}/instruments/{symbol}/bars", headers=auth(keys["viewer"]),
                      params={"seconds": 3600, "limit": 3}).json()
        first = [r for r in rows if r["ts_ns"] // 3_600_000_000_000 == rows[0]["ts_ns"] // 3_600_000_000_000]
        h = hours["items"][0]
        assert (h["open"], h["high"], h["low"], h["close"], h["volume"]) == (
            str(Decimal(first[0]["open"]).scaleb(-digits)), str(Decimal(max(r["high"] for r in first)).scaleb(-digits)),
            str(Decimal(min(r["low"] for r in first)).scaleb(-digits)), str(Decimal(first[-1]["close"]).scaleb(-digits)),
            sum(r["volume"] for r in first))
        assert len(hours["items"]) == 3 and hours["truncated"] is True
        page = c.get(f"{API}/instruments/{symbol}/bars", headers=auth(keys["viewer"]),
                     params={"from_ns": rows[10]["ts_ns"], "limit": 5}).json()
        assert [b["start_ns"] for b in page["items"]] == [r["ts_ns"] for r in rows[10:15]] and page["truncated"]
        assert c.get(f"{API}/instruments/NOPE/bars", headers=auth(keys["viewer"])).status_code == 404
        assert c.get(f"{API}/instruments/{symbol}/bars", headers=auth(keys["viewer"]),
                     params={"seconds": 61}).status_code == 422


def test_errors_are_problem_documents_with_a_stable_type(base: str, keys: dict[str, str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        cases = [
            (c.get(f"{API}/orders"), 401, "unauthorized"),
            (c.get(f"{API}/orders", headers=auth("okt_000000000000_" + "x" * 43)), 401, "unauthorized"),
            (c.get(f"{API}/orders", headers=auth(keys["viewer"]), params={"cursor": "bogus"}), 422, "invalid-request"),
            (c.get(f"{API}/fills", headers=auth(keys["viewer"]), params={"cursor": encode_cursor(2**70)}), 422,
             "invalid-request"),  # an int no store column holds: refused, not a 500
            (c.get(f"{API}/orders", headers=auth(keys["viewer"]), params={"limit": 0}), 422, "invalid-request"),
            (c.get(f"{API}/signals/x%00/decisions", headers=auth(keys["viewer"]), params={"run": "\x00"}), 422,
             "invalid-request"),  # a NUL PostgreSQL cannot hold: refused, not a 503
            (c.get(f"{API}/runs/nope", headers=auth(keys["viewer"])), 404, "not-found"),
            (c.get(f"{API}/nothing-here", headers=auth(keys["viewer"])), 404, "not-found"),
            (c.post(f"{API}/desk/halt", headers=auth(keys["trader"]), json={"reason": "x"}), 403, "forbidden"),
            (c.post(f"{API}/desk/halt", headers=auth(keys["admin"]), json={"reason": "x"}), 503, "desk-unavailable"),
            (c.post(f"{API}/desk/halt", headers=auth(keys["admin"]), json={}), 422, "invalid-request"),
        ]
        for r, status, slug in cases:
            assert r.status_code == status, (r.request.url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            doc = r.json()
            assert doc["type"] == f"urn:octet:problem:{slug}" and doc["status"] == status and doc["title"]
            assert "Traceback" not in r.text and "sqlalchemy" not in r.text.lower()


def test_the_stream_refuses_what_it_must_with_problem_documents(base: str, keys: dict[str, str]) -> None:
    """The WebSocket route is not in the OpenAPI document (the role test cannot see it): without
    credentials, with a bad key, with bad parameters, it sends a problem document and closes with
    a code of its own; a viewer's key is enough to listen."""
    import asyncio
    import json

    import websockets

    async def attempt(url: str, headers: dict[str, str] | None = None) -> tuple[Any, int]:
        # nothing is sent first: by default the server reads no frame before the credentials and
        # refuses at once, so a first message would race its close (bad first messages, read with
        # gateway.stream_auth_message, are refused in test_gateway_parts)
        async with websockets.connect(url, additional_headers=headers) as ws:
            doc = json.loads(await asyncio.wait_for(ws.recv(), 10))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return doc, closed.value.rcvd.code if closed.value.rcvd else 0

    cases = [
        (ws_url(base), None, "unauthorized", 4401),
        (ws_url(base), auth("okt_000000000000_" + "x" * 43), "unauthorized", 4401),
        (ws_url(base, topics="fills,gossip"), auth(keys["viewer"]), "invalid-request", 4400),
        (ws_url(base, after="-3"), auth(keys["viewer"]), "invalid-request", 4400),
        (ws_url(base, after="ten"), auth(keys["viewer"]), "invalid-request", 4400),
    ]
    for url, headers, slug, code in cases:
        doc, got = asyncio.run(attempt(url, headers))
        assert doc["type"] == "error" and doc["problem"]["type"] == f"urn:octet:problem:{slug}", (url, doc)
        assert got == code, (url, got)
        assert "Traceback" not in json.dumps(doc)

    async def hello(headers: dict[str, str]) -> dict[str, Any]:
        async with websockets.connect(ws_url(base), additional_headers=headers) as ws:
            return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))

    assert asyncio.run(hello({"Authorization": f"bearer {keys['viewer']}"}))["type"] == "hello"  # any case, as REST


def test_streams_past_what_the_replicas_take_are_refused_and_the_api_still_answers(  # type: ignore[no-untyped-def]
        base: str, keys: dict[str, str], gw_settings: Settings) -> None:
    """128 open streams (2 replicas x max_ongoing_requests 64) held every Serve slot: /health timed out and the API
    stopped. A replica now takes at most max_ongoing_requests less a quarter of streams: past that a stream is
    refused with a problem document, and with every stream held the REST routes still answer at once."""
    import asyncio
    import json

    import websockets

    per = gw_settings.gateway.streams_at_most()
    total = gw_settings.gateway.replicas * per
    assert per < gw_settings.gateway.max_ongoing_requests

    async def run(burst: bool) -> tuple[int, list[str], int, float]:
        held: list[Any] = []
        refused: list[str] = []
        try:
            async def one() -> None:
                ws = await websockets.connect(ws_url(base), additional_headers=auth(keys["viewer"]), open_timeout=20)
                doc = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if doc["type"] == "hello":
                    held.append(ws)
                else:
                    refused.append(doc["problem"]["type"])
                    await ws.close()
            if burst:  # all at once: joins that wait together must not all pass a replica's count
                await asyncio.gather(*(one() for _ in range(total + 6)))
            else:
                for _ in range(total + 6):
                    await one()
            began = time.monotonic()
            async with httpx.AsyncClient(timeout=5) as c:  # with every stream a replica takes held open
                health = await c.get(f"{base}{API}/health")
                runs = await c.get(f"{base}{API}/runs", headers=auth(keys["viewer"]))
            assert runs.status_code == 200, runs.text
            return len(held), refused, health.status_code, time.monotonic() - began
        finally:
            await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)

    for burst in (True, False):
        opened, refused, health, took = asyncio.run(run(burst))
        assert health == 200 and took < 5, (burst, health, took)
        assert set(refused) == {"urn:octet:problem:stream-unavailable"}, (burst, refused)
        if burst:  # Serve may send a burst to one replica (48 opened here, 54 refused): never more than they take
            assert opened <= total and len(refused) == total + 6 - opened, (opened, len(refused))
        else:  # one at a time, the replicas share them: each takes its share, and no more
            assert opened == total and len(refused) == 6, (opened, len(refused))


def test_no_answer_names_the_server_behind_haproxy(base: str, gw_settings: Settings) -> None:
    """Every answer said `server: uvicorn` (the replicas' own server, behind HAProxy)."""
    if gw_settings.gateway.proxy != "haproxy":
        pytest.skip("gateway.proxy is python here: HAProxy is not in front")
    with httpx.Client(timeout=10) as c:
        for path in ("/health", "/nope"):
            r = c.get(f"{base}{API}{path}")
            assert r.status_code in (200, 404) and "server" not in r.headers, (path, dict(r.headers))


def test_every_route_is_held_to_its_role(base: str, keys: dict[str, str]) -> None:
    """From the OpenAPI document: each route names its role; without credentials it is 401, with a
    role below its own 403 (every route that steers the desk is admin or trader), with its own role not."""
    with httpx.Client(base_url=base, timeout=30) as c:
        spec = c.get("/openapi.json").json()
        ops = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
        assert len(ops) >= 18
        for path, method, op in ops:
            role = op.get("x-octet-role")
            assert role in ("public", *ROLES), f"{method.upper()} {path} names no role"
            if method != "get" and path != f"{API}/auth/token":  # a login changes nothing of the desk
                assert role in ("trader", "admin"), f"{method.upper()} {path} changes things: not for viewers"
            url = path.replace("{client_order_id}", "x").replace("{signal_id}", "x").replace("{run_id}", "x") \
                .replace("{account_id}", "x").replace("{request_id}", "00000000000000000000-abcdef") \
                .replace("{alert_id}", "breaker-1").replace("{symbol}", "EURUSD")
            body = ({"note": "role check"} if "{alert_id}" in path else {"reason": "role check", "wait_seconds": 0}) \
                if method == "post" else None
            bare = c.request(method, url, json=body)
            if role == "public":
                assert bare.status_code == 200, (method, path)
                continue
            assert bare.status_code == 401, (method, path, bare.status_code)
            for lower in ROLES[:ROLES.index(role)]:
                below = c.request(method, url, json=body, headers=auth(keys[lower]))
                assert below.status_code == 403, (method, path, lower, below.status_code)
            own = c.request(method, url, json=body, headers=auth(keys[role]))
            assert own.status_code not in (401, 403), (method, path, role, own.status_code, own.text)


def test_a_login_token_acts_as_its_key_until_the_key_is_revoked(base: str, recorded) -> None:  # type: ignore[no-untyped-def]
    _, store = recorded
    import asyncio

    import websockets

    _, key = add_key(store.engine, "short-lived", "viewer", by="tests")

    async def open_stream(token: str) -> Any:
        # as a browser does (no headers): the token as a subprotocol beside "octet"
        ws = await websockets.connect(ws_url(base), subprotocols=["octet", f"octet.bearer.{token}"])
        assert ws.subprotocol == "octet", "the token is never echoed"
        assert (await next_json(ws))["type"] == "hello"
        return ws

    async def closed_as(ws: Any, within: float) -> int | None:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), within)
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        except TimeoutError:
            return None

    loop = asyncio.new_event_loop()
    with httpx.Client(base_url=base, timeout=30) as c:
        tok = c.post(f"{API}/auth/token", headers={"X-API-Key": key})
        assert tok.status_code == 200 and tok.json()["role"] == "viewer"
        token = tok.json()["access_token"]
        assert c.get(f"{API}/whoami", headers=auth(token)).json()["name"] == "short-lived"
        assert c.post(f"{API}/auth/token", headers=auth(token)).status_code == 403, "no token for a token"
        streams = [loop.run_until_complete(open_stream(credential)) for credential in (token, key)]
        revoke_key(store.engine, "short-lived")
        revoked = time.time()
        deadline = revoked + 15  # each replica reads a key's row at most every 5 s
        for credential in (token, key):
            while c.get(f"{API}/whoami", headers=auth(credential)).status_code != 401:
                assert time.time() < deadline, "a revoked key (or its token) still works"
                time.sleep(0.5)
        # and, 5 s on, refused by every replica (requests spread over them)
        time.sleep(max(0.0, revoked + 5.5 - time.time()))
        assert {c.get(f"{API}/whoami", headers=auth(credential)).status_code
                for credential in (token, key) for _ in range(6)} == {401}
        # a stream opened with either is closed (4401) within seconds of the revocation
        codes = [loop.run_until_complete(closed_as(ws, max(1.0, revoked + 12 - time.time()))) for ws in streams]
        assert codes == [4401, 4401], codes
    loop.close()


def listeners() -> dict[int, list[tuple[str, int]]]:
    """Every listening TCP socket here, by the pid holding it: {pid: [(address, port)]} (from /proc)."""
    import ipaddress
    import os

    by_inode: dict[str, tuple[str, int]] = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] != "0A":  # LISTEN
                    continue
                host_hex, port_hex = fields[1].split(":")
                raw = bytes.fromhex(host_hex)
                # the kernel writes each 32-bit word in host (little-endian) order
                addr = b"".join(raw[i:i + 4][::-1] for i in range(0, width, 4))
                by_inode[fields[9]] = (str(ipaddress.ip_address(addr)), int(port_hex, 16))
    found: dict[int, list[tuple[str, int]]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in by_inode:
                    found.setdefault(int(pid), []).append(by_inode[link[8:-1]])
        except OSError:  # a process that ended meanwhile
            continue
    return found


def test_the_gateway_listens_beyond_loopback_only_where_ray_asks_for_its_token(base: str) -> None:
    """An attacker's view of the ports: HAProxy (the default ingress) listens on loopback only (the
    API, and the stats and metrics Ray's template puts on every interface), its admin socket is in a
    private directory; every socket Ray's processes (Serve's controller, proxy, replicas, the HAProxy
    manager) open beyond loopback is Ray's gRPC, and refuses a call without the cluster's token."""
    import os
    import stat

    import grpc

    def cmdline(pid: int) -> list[str]:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]

    found = listeners()
    haproxy = {pid: socks for pid, socks in found.items() if os.path.basename(cmdline(pid)[0]) == "haproxy"}
    assert haproxy, "the gateway runs behind HAProxy by default"
    port = int(base.rsplit(":", 1)[1])
    for pid, socks in haproxy.items():
        assert all(addr == "127.0.0.1" for addr, _ in socks), socks
        assert port in {p for _, p in socks}
        args = cmdline(pid)
        sock = args[args.index("-x") + 1] if "-x" in args else args[args.index("-f") + 1]
        private = os.path.dirname(os.path.dirname(sock))  # <private dir>/<node id>/admin.sock
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o700, private
        assert private != "/tmp" and os.stat(private).st_uid == os.getuid()
    ray_wide = [(pid, p) for pid, socks in found.items() for addr, p in socks
                if addr not in ("127.0.0.1", "::1")
                and cmdline(pid)[0].startswith(("ray::Serve", "ray::ProxyActor", "ray::HAProxy"))]
    assert ray_wide  # Ray's gRPC servers: each must ask for the token
    for pid, p in ray_wide:
        codes = set()
        with grpc.insecure_channel(f"127.0.0.1:{p}") as channel:
            for method in ("/ray.rpc.CoreWorkerService/KillActor", "/ray.serve.ASGIService/HandleRequest"):
                call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
                try:
                    call(b"", timeout=5)
                    codes.add("OK")
                except grpc.RpcError as exc:
                    codes.add(exc.code().name)
        assert "OK" not in codes and "UNAUTHENTICATED" in codes, (cmdline(pid)[0], p, codes)


def wait_session(c: httpx.Client, key: str, run_id: str, states: tuple[str, ...], timeout: float = 240.0
                 ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = c.get(f"{API}/sessions/{run_id}", headers=auth(key)).json()
        if job["state"] in states:
            return dict(job)
        assert job["state"] not in ("failed", "ended", "stopped"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def operator_records(store: SessionStore, run_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    with store.engine.connect() as conn:
        q = select(audit.audit).where(audit.audit.c.run_id == run_id, audit.audit.c.kind == "operator")
        return [dict(r.payload) for r in conn.execute(q.order_by(audit.audit.c.seq))]


def test_a_backtest_and_a_replay_started_through_the_api_are_runs_of_their_own(  # type: ignore[no-untyped-def]
        base: str, keys: dict[str, str], recorded) -> None:
    """POST /sessions (admin) runs a backtest on the desk's Ray: it ends as a run in the store with
    every tick, who started it in its audit trail; a second one while it runs is 409. A paced replay
    stopped through the API ends early, flat, with who stopped it in its audit trail."""
    _, store = recorded
    admin = keys["admin"]
    with httpx.Client(base_url=base, timeout=30) as c:
        body = {"kind": "backtest", "ticks": 3000, "seed": 11, "reason": "nightly check"}
        assert c.post(f"{API}/sessions", headers=auth(keys["trader"]), json=body).status_code == 403
        bad = c.post(f"{API}/sessions", headers=auth(admin), json={**body, "speed": 10})
        assert bad.status_code == 422 and bad.json()["type"] == "urn:octet:problem:invalid-request", bad.text
        assert [e["where"] for e in bad.json()["errors"]] == ["body.speed"]
        for reason in ("a\u009b[2J", "x\u202eyz", "line\u2028break", "tab\there"):  # C1, bidi, separators, C0
            sneaky = c.post(f"{API}/sessions", headers=auth(admin), json={**body, "reason": reason})
            assert sneaky.status_code == 422, (reason, sneaky.text)
        r = c.post(f"{API}/sessions", headers=auth(admin), json=body)
        assert r.status_code == 202, r.text
        started = r.json()
        assert started["state"] == "starting" and started["started_by"].startswith("api:test-admin")
        busy = c.post(f"{API}/sessions", headers=auth(admin), json=body)  # its agents take seconds to start
        assert busy.status_code == 409 and busy.json()["type"] == "urn:octet:problem:conflict", busy.text
        job = wait_session(c, admin, started["run_id"], ("ended",))
        assert job["progress"]["ticks"] == 3000 and job["stopped_by"] is None
        run = c.get(f"{API}/runs/{job['run_id']}", headers=auth(admin)).json()
        assert (run["status"], run["ticks"]) == ("done", 3000), run
        [rec] = operator_records(store, job["run_id"])
        assert (rec["action"], rec["who"], rec["reason"], rec["ticks"]) == \
            ("start", started["started_by"], "nightly check", 3000)

        r = c.post(f"{API}/sessions", headers=auth(admin),
                   json={"kind": "replay", "ticks": 400_000, "seed": 12, "speed": 120, "reason": "watch it"})
        assert r.status_code == 202, r.text
        replay = r.json()["run_id"]
        deadline = time.monotonic() + 240
        while wait_session(c, admin, replay, ("running",))["progress"]["ticks"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        stop = c.post(f"{API}/sessions/{replay}/stop", headers=auth(admin), json={"reason": "seen enough"})
        assert stop.status_code == 202 and stop.json()["state"] == "stopping", stop.text
        job = wait_session(c, admin, replay, ("stopped",))
        assert 0 < job["progress"]["ticks"] < 400_000 and job["stopped_by"] == started["started_by"]
        run = c.get(f"{API}/runs/{replay}", headers=auth(admin)).json()
        assert run["status"] == "done" and run["ticks"] == job["progress"]["ticks"], run
        positions = c.get(f"{API}/positions", headers=auth(admin), params={"run": replay}).json()["items"]
        assert positions == []  # flat at its end, as a backtest is
        ops = {rec["action"]: rec for rec in operator_records(store, replay)}
        assert (ops["stop"]["who"], ops["stop"]["reason"]) == (started["started_by"], "seen enough")
        # who steered it, through the API too (a viewer may read it), a page at a time
        first = c.get(f"{API}/operator", headers=auth(keys["viewer"]), params={"run": replay, "limit": 1}).json()
        rest = c.get(f"{API}/operator", headers=auth(keys["viewer"]),
                     params={"run": replay, "cursor": first["next_cursor"]}).json()
        assert [x["payload"] for x in first["items"] + rest["items"]] == operator_records(store, replay)
        assert [x["payload"]["action"] for x in first["items"] + rest["items"]] == ["start", "stop"]
        assert rest["next_cursor"] is None and {x["kind"] for x in first["items"]} == {"operator"}
        gone = c.get(f"{API}/sessions/ba0000000000", headers=auth(admin))
        assert gone.status_code == 404 and gone.json()["type"] == "urn:octet:problem:not-found", gone.text
        listed = [j["run_id"] for j in c.get(f"{API}/sessions", headers=auth(keys["viewer"])).json()["items"]]
        assert listed[:2] == [replay, started["run_id"]]


def test_a_gateway_that_stops_ends_its_sessions_recorded(ray_local, gw_settings: Settings, recorded) -> None:  # type: ignore[no-untyped-def]
    """What the gateway's stop does first (``SessionHost.stop_all``): a replay under way ends after
    its batch, its run recorded as done, flat, with the gateway as who stopped it."""
    from serve.sessions import SessionHost

    _, store = recorded
    host = SessionHost(gw_settings)
    job = host.start("replay", 400_000, 13, 120.0, "api:test (k1)", "a long replay")
    deadline = time.monotonic() + 240
    while host.get(job["run_id"])["progress"]["ticks"] == 0:
        assert host.get(job["run_id"])["state"] in ("starting", "running"), host.get(job["run_id"])
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert host.stop_all("gateway", "the gateway stopped", 60) == 0
    done = host.get(job["run_id"])
    assert (done["state"], done["stopped_by"]) == ("stopped", "gateway"), done
    ops = {rec["action"]: rec for rec in operator_records(store, job["run_id"])}
    assert (ops["start"]["who"], ops["stop"]["who"], ops["stop"]["reason"]) == \
        ("api:test (k1)", "gateway", "the gateway stopped")
    with store.engine.connect() as conn:
        status = conn.execute(select(m.Run.status).where(m.Run.run_id == job["run_id"])).scalar_one()
    assert status == "done"


def test_the_live_schema_holds_for_generated_requests(base: str, keys: dict[str, str]) -> None:
    """Requests generated from the live OpenAPI document by schemathesis (at most 25 per route, both
    valid and invalid ones), with an admin's key: no server error, and every response in the schema.
    Steering routes have no desk to steer here: their documented answer is 503 (or 422 for a bad
    body, 401 for a bad Authorization header), which is checked instead of counted as a server error."""
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # no server error; status, content type and body as documented (not "an invalid request must be
    # refused": a query value generated as an object arrives as a string that is valid)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = auth(keys["admin"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18

    def fuzz(op: Any, mode: Any) -> None:
        steering = op.method.upper() == "POST" and op.path.startswith(f"{API}/desk/")

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            # HTTP's framing is the client's, not a parameter of the API: a generated Content-Length (say
            # "uo") is a malformed request that the proxy in front refuses (400) before the API sees it
            for name in [k for k in (case.headers or {}) if k.lower() in ("content-length", "transfer-encoding")]:
                del case.headers[name]
            if steering:
                r = case.call(base_url=base, headers=headers)
                assert r.status_code in (401, 422, 503), r.text  # 401: a generated, invalid Authorization
                return
            case.call_and_validate(base_url=base, headers=headers, checks=checks)

        check()

    # a slow replay holds the one session place: a generated backtest is refused (409), not run
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post(f"{API}/sessions", headers=headers, json={"kind": "replay", "ticks": 1000, "speed": 0.001,
                                                             "reason": "holds the place"})
        assert r.status_code == 202, r.text
        holder = r.json()["run_id"]
    try:
        for op in operations:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                try:
                    fuzz(op, mode)
                except Unsatisfiable:  # a route with no parameter and no body has no invalid request to make
                    assert mode == schemathesis.GenerationMode.NEGATIVE, op.label
    finally:
        with httpx.Client(base_url=base, timeout=30) as c:
            assert c.post(f"{API}/sessions/{holder}/stop", headers=headers,
                          json={"reason": "done"}).status_code == 202
            assert c.get(f"{API}/sessions", headers=headers).json()["items"][0]["run_id"] == holder


# --- the WebSocket stream ---------------------------------------------------------------------------

def ws_url(base: str, **params: Any) -> str:
    from urllib.parse import urlencode

    return base.replace("http://", "ws://") + f"{API}/stream" + (f"?{urlencode(params)}" if params else "")


async def next_json(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    import asyncio
    import json

    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


def publish(settings: Settings, records: list[Any], run_id: str = "gw", pause_every: int = 0) -> Any:
    """The desk's live publisher (``RedisLive``, unthrottled) sending ``records`` as the desk would."""
    from cluster.adapters.live import Publication, RedisLive

    assert settings.storage.redis_url is not None
    live = RedisLive(settings.storage.redis_url.get_secret_value(), settings.registry(), throttle_ms=0,
                     window=100_000)
    for i, r in enumerate(records):
        live.publish(Publication.of_record(run_id, settings.registry(), r))
        if pause_every and i % pause_every == pause_every - 1:
            time.sleep(0.05)
    assert live.errors == 0, live.last_error
    return live


def test_the_stream_carries_every_order_and_fill_and_a_client_that_reconnects_misses_nothing(  # type: ignore[no-untyped-def]
        base: str, recorded, keys: dict[str, str], gw_settings: Settings) -> None:
    """Two clients on the stream through Serve while the run's records are published as the desk
    publishes them: one reads throughout; the other, for one account, hangs up halfway and comes
    back with its last seq. Both end with exactly the orders, reports and fills the store holds, in
    order (orders and reports each once), and none twice. The delay from Redis to the client is measured (printed)."""
    import asyncio
    import threading

    import websockets

    result, store = recorded
    back = store.read_run("gw")
    acc = result.orders[0].account_id
    want_fills = [(f["client_order_id"], f["ts_ns"], f["kind"], str(f["price"])) for f in back["fills"]]
    want_mine = [f for f, row in zip(want_fills, back["fills"], strict=True) if row["account_id"] == acc]
    want_orders = [o["client_order_id"] for o in back["orders"]]
    want_reports = [(x["client_order_id"], x["status"]) for x in back["execution_reports"]]
    assert len(want_mine) >= 2
    # (Redis is not emptied: the replicas' hubs would rightly take that for a renumbering and tell
    # every client to reload; the clients get only what is published after they connect)
    viewer = auth(keys["viewer"])

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[float], int]:
        everything: list[dict[str, Any]] = []
        mine: list[dict[str, Any]] = []
        delays: list[float] = []
        async with websockets.connect(ws_url(base, topics="orders,fills"), additional_headers=viewer) as a, \
                websockets.connect(ws_url(base, topics="fills", accounts=acc), additional_headers=viewer) as b:
            assert (await next_json(a))["type"] == "hello"
            hello = await next_json(b)
            assert hello["type"] == "hello" and hello["topics"] == ["fills"] and hello["accounts"] == [acc]
            publisher = threading.Thread(target=publish, args=(gw_settings, result.records), kwargs={"pause_every": 20})
            publisher.start()

            async def read_a() -> None:
                while sum(m.get("topic") == "fills" for m in everything) < len(want_fills):
                    msg = await next_json(a, 60)
                    if msg.get("topic") == "fills":
                        delays.append(time.time() * 1e6 - msg["at_us"])
                    everything.append(msg)

            async def read_b() -> int:
                while len(mine) < len(want_mine) // 2:
                    mine.append(await next_json(b, 60))
                await b.close()
                return 0

            await asyncio.gather(read_a(), read_b())
        await asyncio.sleep(0.5)  # messages go by while b is away
        last = mine[-1]["seq"]
        # the stream's epoch (b's hello may have come before anything was ever published: none yet)
        async with websockets.connect(ws_url(base), additional_headers=viewer) as probe:
            epoch = (await next_json(probe))["epoch"]
        async with websockets.connect(ws_url(base, topics="fills", accounts=acc, after=last, epoch=epoch),
                                      additional_headers=viewer) as b2:
            assert (await next_json(b2))["type"] == "hello"
            while len(mine) < len(want_mine):
                mine.append(await next_json(b2, 30))
            with pytest.raises(TimeoutError):  # and nothing more: no message twice
                await next_json(b2, 1.5)
        # a seq of another epoch is told to reload
        async with websockets.connect(ws_url(base, after=last, epoch="1"), additional_headers=viewer) as stale:
            assert (await next_json(stale))["type"] == "hello"
            told = await next_json(stale)
            assert told["type"] == "reload" and "epoch" in told["reason"]
        publisher.join(60)
        return everything, mine, delays, last

    everything, mine, delays, _ = asyncio.run(run())
    seqs = [m["seq"] for m in everything]
    assert seqs == sorted(set(seqs))  # in order, each once
    fills = [(m["data"]["client_order_id"], m["data"]["ts_ns"], m["data"]["kind"], m["data"]["price"])
             for m in everything if m["topic"] == "fills"]
    assert fills == want_fills
    # orders and reports: each once (the store writes a batch's orders in its own order)
    assert sorted(m["data"]["client_order_id"] for m in everything if m.get("kind") == "order") == sorted(want_orders)
    assert sorted((m["data"]["client_order_id"], m["data"]["status"]) for m in everything
                  if m.get("kind") == "report") == sorted(want_reports)
    got_mine = [(m["data"]["client_order_id"], m["data"]["ts_ns"], m["data"]["kind"], m["data"]["price"]) for m in mine]
    assert got_mine == want_mine  # half before the hang-up, the rest after it: none missing, none twice
    assert {m["account"] for m in mine} == {acc}
    delays.sort()
    print(f"\nstream: {len(everything)} messages to one client; Redis -> client delay p50 "
          f"{delays[len(delays) // 2] / 1000:.1f} ms, max {delays[-1] / 1000:.1f} ms over {len(delays)} fills")


def test_a_slow_client_costs_a_bounded_queue_and_is_told_what_it_lost(base: str, keys: dict[str, str],  # type: ignore[no-untyped-def]
                                                                      gw_settings: Settings) -> None:
    """A client that reads nothing (and so acknowledges nothing) while 20,000 messages of 4 KB go by:
    the server sends at most its credit, keeps at most its queue for it and drops the rest; when it
    reads, every message is either delivered or counted in a "lost" notice that names where the
    gap is (none both, none neither). Through Serve, whose proxy buffers whatever a replica sends."""
    import asyncio
    import json

    import websockets

    from cluster.adapters.live import Publication, RedisLive, message

    assert gw_settings.storage.redis_url is not None
    live = RedisLive(gw_settings.storage.redis_url.get_secret_value(), gw_settings.registry(), throttle_ms=0,
                     window=100_000)
    total = 20_000

    async def run() -> tuple[list[dict[str, Any]], int]:
        async with websockets.connect(ws_url(base, topics="signals"), additional_headers=auth(keys["viewer"]),
                                      max_queue=4) as ws:  # the client's own buffer: 4 frames
            before = (await next_json(ws))["seq"]  # the hello: the stream's last seq
            for chunk in range(total // 1000):
                p = Publication("gw", chunk)
                p.messages = [("signals", "", message("signals", {"n": chunk * 1000 + i, "pad": "x" * 4000}))
                              for i in range(1000)]
                live.publish(p)
            assert live.errors == 0, live.last_error
            await asyncio.sleep(3.0)  # the hub has dispatched them all by now, into a queue of 300
            got: list[dict[str, Any]] = []
            while True:  # now it reads, acknowledging as it goes
                try:
                    got.append(await next_json(ws, 3.0))
                except TimeoutError:
                    return got, before
                if "seq" in got[-1] and len(got) % 50 == 0:
                    await ws.send(json.dumps({"type": "ack", "seq": got[-1]["seq"]}))

    got, before = asyncio.run(run())
    delivered = [m for m in got if "seq" in m]
    notices = [m for m in got if m.get("type") == "lost"]
    assert notices, f"{len(delivered)} delivered, no loss reported"
    assert len(delivered) + sum(n["count"] for n in notices) == total
    seqs = [m["seq"] for m in delivered]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    lost = {s for n in notices for s in range(n["first_seq"], n["last_seq"] + 1)}
    assert not lost & set(seqs) and len(lost) + len(seqs) == total  # each message delivered or counted
    assert min(seqs) > before
    # what reached it: what was sent before it stopped acknowledging (its credit) and its queue, not
    # the 20,000 (80 MB) that went by
    assert len(delivered) <= 2 * SLOW_QUEUE + 1
    print(f"\nslow client: {len(delivered)} of {total} delivered (credit {SLOW_QUEUE} + queue {SLOW_QUEUE}), "
          f"{sum(n['count'] for n in notices)} counted lost in {len(notices)} notice(s)")


def test_a_session_host_whose_process_dies_marks_the_runs_it_was_running_interrupted(  # type: ignore[no-untyped-def]
        ray_local, gw_settings: Settings, recorded) -> None:
    """The host's process is killed while a replay runs; Ray restarts the host, which marks that run
    ``interrupted`` in the store (an operator record says why) and lists it as failed. Runs it did not
    start are left as they were: the desk's own, and a session another host (another desk sharing the
    store) is still running."""
    import ray

    from cluster.storage.audit import Entry
    from serve.sessions import SessionHost

    _, store = recorded
    others = ["other-desk", "re0000000000"]
    with store.engine.begin() as conn:  # someone else's runs, still running: not this host's to settle
        conn.execute(insert(m.Run.__table__), [dict(run_id=r, started_ns=1, status="running", settings={},
                                                    recorded_ns=1) for r in others])
    store.append_audit("re0000000000", [Entry("operator", 1, {"action": "start", "run_id": "re0000000000",
                                                              "who": "api:elsewhere", "host": "someone-else"})])
    host = ray.remote(SessionHost).options(num_cpus=0, max_concurrency=8, max_restarts=-1).remote(gw_settings)
    try:
        job = ray.get(host.start.remote("replay", 400_000, 17, 120.0, "api:test (k1)", "a replay to lose"))
        run_id = job["run_id"]
        deadline = time.monotonic() + 240
        while ray.get(host.get.remote(run_id))["progress"]["ticks"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        ray.kill(host, no_restart=False)  # its process dies; Ray starts it again
        deadline = time.monotonic() + 120
        seen: dict = {"state": "running"}
        while seen["state"] == "running":  # the old process may answer once more before it is gone
            assert time.monotonic() < deadline, seen
            try:
                seen = ray.get(host.get.remote(run_id), timeout=30)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                time.sleep(0.5)
        assert seen["state"] == "failed" and "interrupted" in seen["error"], seen
        assert (seen["started_by"], seen["reason"], seen["kind"]) == ("api:test (k1)", "a replay to lose", "replay")
        with store.engine.connect() as conn:
            status = dict(conn.execute(select(m.Run.run_id, m.Run.status)
                                       .where(m.Run.run_id.in_([run_id, *others, "gw"]))).all())
        assert status == {run_id: "interrupted", "other-desk": "running", "re0000000000": "running", "gw": "done"}
        ops = {rec["action"]: rec for rec in operator_records(store, run_id)}
        assert ops["start"]["host"] and "process ended" in ops["interrupted"]["reason"]
        assert [rec["action"] for rec in operator_records(store, "re0000000000")] == ["start"]
    finally:
        ray.kill(host, no_restart=True)
        with store.engine.begin() as conn:
            conn.execute(m.Run.__table__.delete().where(m.Run.run_id.in_(others)))
