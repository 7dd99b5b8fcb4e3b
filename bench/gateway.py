"""The API gateway's throughput and latency: a typical read route through Ray Serve, and the same
app under plain uvicorn, measured in one run (alternating, so that the machine's drift falls on
both), at concurrency 1, 16 and 64.

Set-up (not timed): a session of ``--ticks`` replay ticks is recorded into an embedded SQLite store
and a viewer key is made. The route (``--route``) is ``GET /api/v1/accounts`` (every account's balance, equity,
headroom, positions and breakers: five queries). Serve runs ``gateway.replicas`` replica(s) behind
its proxy; uvicorn runs one worker process. The load comes from a client on
the same 2 cores (wrk when it is installed, else httpx in this process): the figures are of the
whole machine, client included.

The WebSocket fan-out: ``--clients`` (100) stream clients connect to ``/api/v1/stream`` (through
Serve, then through uvicorn, alternating), and the desk's publisher (``RedisLive``, on a local
Redis) sends ``--messages`` fill-sized messages as fast as it can; the figure is messages delivered
to all clients a second, from the first sent to the last received by the last client. The clients'
queues are made large enough that none is dropped (the bounded-queue case is a test). The clients
run in one asyncio process on the same 2 cores.

Prints the figures and writes bench/results/gateway.json; never fails on a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile, write_results  # noqa: E402

ROUTE = "/api/v1/accounts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(base: str, key: str, concurrency: int, seconds: float, route: str = ROUTE) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30, limits=limits) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                r = await client.get(route)
                if r.status_code != 200:
                    errors += 1
                lat.append((time.perf_counter() - t) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        took = time.perf_counter() - began
    return {"requests": len(lat), "errors": errors, "req_per_s": round(len(lat) / took, 1),
            "p50_ms": round(percentile(lat, 0.5), 2), "p99_ms": round(percentile(lat, 0.99), 2)}


def wrk_load(base: str, key: str, concurrency: int, seconds: float, route: str) -> dict[str, Any]:
    """The same measurement with wrk (C, one thread per core at most): a client that costs the
    server's 2 cores far less than a Python one."""
    import re

    threads = min(2, concurrency)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:.0f}s", "--latency",
                          "-H", f"X-API-Key: {key}", f"{base}{route}"], capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
        if m is None:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    total = re.search(r"([0-9]+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    errs = re.search(r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", out)
    return {"requests": int(total.group(1)) if total else 0,
            "errors": (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in errs.groups()) if errs else 0),
            "req_per_s": float(rate.group(1)) if rate else 0.0, "p50_ms": round(ms("50"), 2),
            "p99_ms": round(ms("99"), 2)}


async def fanout(base: str, key: str, redis_url: str, registry: Any, clients: int, messages: int) -> dict[str, Any]:
    """``messages`` sent once, to ``clients`` stream clients: deliveries a second."""
    import json
    import threading

    import websockets

    from cluster.adapters.live import Publication, RedisLive, message

    url = base.replace("http://", "ws://") + "/api/v1/stream?topics=fills"
    conns = [await websockets.connect(url, additional_headers={"X-API-Key": key}, max_queue=None)
             for _ in range(clients)]
    for ws in conns:
        assert json.loads(await ws.recv())["type"] == "hello"
    live = RedisLive(redis_url, registry, throttle_ms=0, window=max(10_000, messages))
    last = int(live.client.get("octet:seq") or 0) + messages
    body = {"client_order_id": "oc-0123456789abcdef0123", "account_id": "FTMO-100K", "symbol": "EURUSD",
            "side": "BUY", "lots": "1.50", "price": "1.08552", "kind": "entry", "reason": "signal",
            "commission": "-10.50", "realized_pnl": "0"}

    def send() -> None:
        for start in range(0, messages, 100):
            p = Publication("bench", start)
            p.messages = [("fills", "", message("fills", {**body, "ts_ns": start + i}, "FTMO-100K"))
                          for i in range(min(100, messages - start))]
            live.publish(p)

    got = [0] * clients
    lost = [0] * clients

    async def read(i: int, ws: Any) -> None:
        while True:
            raw = await asyncio.wait_for(ws.recv(), 60)
            if raw.startswith('{"seq":'):
                got[i] += 1
                if int(raw[7:raw.index(",")]) >= last:
                    return
            elif '"lost"' in raw:
                lost[i] += json.loads(raw)["count"]

    began = time.perf_counter()
    sender = threading.Thread(target=send)
    sender.start()
    try:
        await asyncio.gather(*(read(i, ws) for i, ws in enumerate(conns)))
    finally:
        elapsed = time.perf_counter() - began
        sender.join()
        for ws in conns:
            await ws.close()
        live.close()
    delivered = sum(got)
    return {"clients": clients, "messages": messages, "delivered": delivered, "lost": sum(lost),
            "seconds": round(elapsed, 3), "messages_per_s": round(delivered / elapsed, 1)}


def wait_up(base: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing answers at {base}")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ticks", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of Serve and uvicorn")
    ap.add_argument("--route", default=ROUTE, help="the route to load (default: %(default)s)")
    ap.add_argument("--replicas", type=int, default=None, help="gateway.replicas (default: octet.yaml's)")
    ap.add_argument("--proxy", choices=("python", "haproxy"), default=None,
                    help="gateway.proxy, Serve's ingress (default: octet.yaml's)")
    ap.add_argument("--out", default="gateway", help="results file name under bench/results (default: %(default)s)")
    ap.add_argument("--clients", type=int, default=100, help="stream clients for the fan-out")
    ap.add_argument("--messages", type=int, default=2_000, help="messages sent to them, per measurement")
    args = ap.parse_args()
    if args.ticks < 1000 or args.seconds <= 0 or args.rounds < 1:
        ap.error("--ticks at least 1000, --seconds above 0, --rounds at least 1")
    if not all(c.isalnum() or c in "_-" for c in args.out):
        ap.error("--out is a file name: letters, digits, '_' and '-'")

    import shutil

    import cluster  # noqa: F401  (Ray's token authentication, before Ray is imported)
    from cluster.config.settings import load_settings
    from cluster.desk.session import Session
    from cluster.desk.topology import init_ray
    from cluster.devservers.services import LocalRedis
    from cluster.storage.store import SessionStore
    from serve.deploy import start, stop
    from serve.keys import add_key

    client = "wrk" if shutil.which("wrk") else "httpx"
    print(f"load from {client}" + ("" if client == "wrk" else " (install wrk for a client that costs the server "
                                                            "less: `make bench-gateway` does)"), flush=True)
    tmp = tempfile.mkdtemp(prefix="octet-bench-gw-")
    serve_port, uv_port = free_port(), free_port()
    redis = LocalRedis(Path(tmp) / "redis")
    redis_url = redis.start()
    queue = max(1_000, args.messages + 10)  # none dropped: the fan-out's throughput, not its shedding
    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=tmp, session__ticks=args.ticks,
                             gateway__port=serve_port, gateway__rate_limit_per_minute=1_000_000,
                             runtime__live="redis", storage__redis_url=redis_url, gateway__stream_queue=queue,
                             **({"gateway__replicas": args.replicas} if args.replicas else {}),
                             **({"gateway__proxy": args.proxy} if args.proxy else {}))
    init_ray(settings)
    store = SessionStore.sqlite(Path(tmp))
    print(f"recording a session of {args.ticks:,} ticks ...", flush=True)
    from datetime import UTC, datetime

    from cluster.adapters.feeds.replay import generate_ticks

    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), args.ticks, settings.session.seed,
                              datetime(2026, 3, 2, tzinfo=UTC))
    Session(settings, store, run_id="bench").run(ticks)
    _, key = add_key(store.engine, "bench", "viewer", by="bench")
    serve_base = start(settings)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OCTET_RUNTIME__DATA_DIR": tmp,
           "OCTET_GATEWAY__RATE_LIMIT_PER_MINUTE": "1000000", "OCTET_RUNTIME__LIVE": "redis",
           "OCTET_STORAGE__REDIS_URL": redis_url, "OCTET_GATEWAY__STREAM_QUEUE": str(queue)}
    uv = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "serve.asgi:app", "--host", "127.0.0.1",
                           "--port", str(uv_port), "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT)
    uv_base = f"http://127.0.0.1:{uv_port}"
    try:
        wait_up(uv_base)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {"serve": {}, "uvicorn": {}}
        fan: dict[str, list[dict[str, Any]]] = {"serve": [], "uvicorn": []}
        for rnd in range(args.rounds):
            for concurrency in (1, 16, 64):
                for name, base in (("serve", serve_base), ("uvicorn", uv_base)):
                    r = wrk_load(base, key, concurrency, args.seconds, args.route) if client == "wrk" else \
                        asyncio.run(load(base, key, concurrency, args.seconds, args.route))
                    results[name].setdefault(str(concurrency), []).append(r)
                    print(f"round {rnd + 1} {name:8s} c={concurrency:3d}: {r['req_per_s']:8.1f} req/s  "
                          f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}", flush=True)
            for name, base in (("serve", serve_base), ("uvicorn", uv_base)):
                f = asyncio.run(fanout(base, key, redis_url, settings.registry(), args.clients, args.messages))
                fan[name].append(f)
                print(f"round {rnd + 1} {name:8s} fan-out to {f['clients']} clients: {f['messages_per_s']:9.1f} "
                      f"messages/s ({f['delivered']:,} in {f['seconds']} s, lost {f['lost']})", flush=True)
    finally:
        uv.terminate()
        uv.wait(10)
        stop()
        redis.stop()
    summary = {}
    for c in ("1", "16", "64"):
        best = {n: max(results[n][c], key=lambda r: r["req_per_s"]) for n in results}
        worst = {n: min(results[n][c], key=lambda r: r["req_per_s"]) for n in results}
        summary[c] = {"serve_worst": worst["serve"], "uvicorn_worst": worst["uvicorn"],
                      "serve_over_uvicorn_req_s": round(worst["serve"]["req_per_s"] / worst["uvicorn"]["req_per_s"], 3),
                      "serve_best": best["serve"], "uvicorn_best": best["uvicorn"]}
    write_results(args.out, {
        "route": args.route, "proxy": settings.gateway.proxy, "seconds_per_measurement": args.seconds, "rounds": args.rounds,
        "replicas": settings.gateway.replicas, "max_ongoing_requests": settings.gateway.max_ongoing_requests,
        "targets": {"req_per_s_at_64_through_serve": 1000, "p99_ms_at_64": 50, "fanout_messages_per_s": 20_000},
        "summary_by_concurrency": summary, "runs": results,
        "fanout": {"worst": {n: min(v, key=lambda f: f["messages_per_s"]) for n, v in fan.items()},
                   "serve_over_uvicorn": round(min(f["messages_per_s"] for f in fan["serve"])
                                               / min(f["messages_per_s"] for f in fan["uvicorn"]), 3),
                   "runs": fan},
        "client": client,
        "note": "load from the same 2-core machine (wrk when installed, else httpx in this process); worst round "
                "reported first; fan-out clients in one asyncio process on the same machine", "machine": machine()})


if __name__ == "__main__":
    main()
