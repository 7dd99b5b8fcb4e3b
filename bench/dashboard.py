"""The dashboard in Debian's Chromium (Playwright) over a store the size a busy desk reaches: how soon
the desk page is usable with 5 accounts and 10,000 orders, how smoothly the chart pans 50,000 bars,
and how much JavaScript each page ships.

The store is made here (SQLite under a temporary data_dir): 5 accounts with 2,000 equity and
headroom points each, 10,000 orders with an execution report each, and 50,000 one-minute EURUSD
bars (a random walk). The gateway's app runs under uvicorn (`serve.asgi`: the same app and
dashboard build Ray Serve serves, without Ray), on loopback.

- Desk page: from the navigation's start to the frame in which all 5 account cards show their
  balance (the first meaningful render), with the token in place (as after a login); the first
  load is cold (nothing cached), the next ones warm. Also the blotter's first page of the 10,000
  orders.
- Chart: all 50,000 bars loaded (ten pages of 5,000), then panned by mouse drags for a few
  seconds at its default zoom and again zoomed out (by the wheel) until every bar is in view (how
  many are is read from the page and published); every frame's duration is taken
  by a requestAnimationFrame loop in the page. Frames over 50 ms are counted as janky.
- JavaScript: the gzipped size of the scripts each page loads (as sent, with gzip), and of the
  whole build.

Prints the figures and writes bench/results/dashboard.json; never fails on a time. Needs
`make dashboard` (the build) and /usr/bin/chromium (`make browser-deps`).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile, write_results  # noqa: E402
from bench.gateway import wait_up  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ACCOUNTS = [("acc-1", "ftmo.challenge"), ("acc-2", "ftmo.verification"), ("acc-3", "ftmo.funded"),
            ("acc-4", "ftmo.challenge"), ("acc-5", "ftmo.funded")]
RUN = "dashbench"
T0 = 1_772_409_600_000_000_000  # Monday 2 March 2026 00:00 UTC
MIN = 60_000_000_000
BUILD = ROOT / "dashboard" / "out" / "_next"


def populate(data_dir: Path, orders: int, bars: int, seed: int = 7) -> dict[str, int]:
    """The store the benchmark reads (see the module's docstring); counts of what it holds."""
    from decimal import Decimal

    from sqlalchemy import func, insert, select

    from cluster.storage import models as m
    from cluster.storage.store import SessionStore

    rng = random.Random(seed)
    store = SessionStore.sqlite(data_dir)
    e = store.engine
    with e.begin() as c:
        c.execute(insert(m.Run.__table__), [{"run_id": RUN, "started_ns": T0, "status": "done", "ticks": 0,
                                              "batches": 0, "elapsed_s": 0.0, "settings": {}, "summary": None,
                                              "recorded_ns": time.time_ns()}])
        c.execute(insert(m.Account.__table__), [
            {"account_id": a, "firm": f, "currency": "USD", "initial_balance": Decimal(100_000), "owner": "bench",
             "profile": "default"} for a, f in ACCOUNTS])
        points, heads = [], []
        for a, _ in ACCOUNTS:
            eq = Decimal(100_000)
            for i in range(2000):
                eq += Decimal(rng.randint(-300, 320))
                ts = T0 + i * 5 * MIN
                points.append({"run_id": RUN, "account_id": a, "ts_ns": ts, "balance": eq, "equity": eq,
                               "min_equity": eq - 50, "open_positions": 0, "closed_trades": i})
                heads.append({"run_id": RUN, "account_id": a, "ts_ns": ts, "daily_headroom": Decimal(4000),
                              "max_loss_headroom": eq - 90_000, "worst_case_daily_headroom": Decimal(3500),
                              "worst_case_max_loss_headroom": eq - 90_500, "daily_fraction": 0.8,
                              "daily_floor": eq - 4000, "max_loss_floor": Decimal(90_000)})
        c.execute(insert(m.EquityRow.__table__), points)
        c.execute(insert(m.HeadroomRow.__table__), heads)
        rows, reports = [], []
        for i in range(orders):
            a = ACCOUNTS[i % len(ACCOUNTS)][0]
            coid = f"oc-bench-{i:06d}"
            ts = T0 + i * MIN
            rows.append({"run_id": RUN, "client_order_id": coid, "account_id": a, "symbol": "EURUSD",
                         "side": "BUY" if i % 2 else "SELL", "lots": Decimal("0.50"), "order_type": "market",
                         "stop_loss": Decimal("1.07900"), "take_profit": Decimal("1.08500"), "limit_price": None,
                         "reference_price": Decimal("1.08200"), "signal_id": f"sig-{i // 5}", "profile": "default",
                         "seed": str(i), "leg": 0, "not_before_ns": ts, "expires_ns": ts + 10 * MIN,
                         "min_hold_ns": 0, "max_slippage_points": 15})
            reports.append({"run_id": RUN, "client_order_id": coid, "account_id": a, "status": "filled",
                            "ts_ns": ts, "reason": ""})
        c.execute(insert(m.OrderRow.__table__), rows)
        c.execute(insert(m.ReportRow.__table__), reports)
        price, out = 108_200, []
        for i in range(bars):
            o = price
            price = max(50_000, price + rng.randint(-12, 12))
            hi, lo = max(o, price) + rng.randint(0, 6), min(o, price) - rng.randint(0, 6)
            out.append({"symbol": "EURUSD", "seconds": 60, "ts_ns": T0 + i * MIN, "open": o, "high": hi, "low": lo,
                        "close": price, "volume": rng.randint(20, 400)})
        c.execute(insert(m.BarRow.__table__), out)
    with e.connect() as c:
        counts = {t: int(c.execute(select(func.count()).select_from(getattr(m, t).__table__)).scalar_one())
                  for t in ("OrderRow", "BarRow", "Account")}
    store.close()
    return counts


@contextlib.contextmanager
def dashboard_over(data_dir: Path, orders: int, bars: int) -> Iterator[tuple[str, str, dict[str, int]]]:
    """A store of ``orders`` and ``bars`` under ``data_dir`` (see ``populate``), served by the
    gateway's app under uvicorn on a free loopback port: its base URL, a viewer key, the counts."""
    from cluster.storage.store import SessionStore
    from serve.keys import add_key
    from tests.serve.test_gateway_on_serve import free_port

    counts = populate(data_dir, orders, bars)
    store = SessionStore.sqlite(data_dir)
    _, key = add_key(store.engine, "bench", "viewer", by="bench")
    store.close()
    port = free_port()
    proc = serve(data_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(base)
        yield base, key, counts
    finally:
        proc.terminate()
        proc.wait(20)


def serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OCTET_RUNTIME__DATA_DIR": str(data_dir),
           "OCTET_GATEWAY__RATE_LIMIT_PER_MINUTE": "1000000"}
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "serve.asgi:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT)


FRAMES = """() => { window.__frames = []; let last = performance.now(); window.__run = true;
  const tick = (t) => { window.__frames.push(t - last); last = t; if (window.__run) requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""


def drag(page: Any, box: dict[str, float], seconds: float) -> tuple[list[float], bool]:
    """Pan the chart by mouse drags for ``seconds``: every frame's duration (ms) meanwhile, and
    whether a drag moves the chart (its picture after one, taken before the frames are, differs)."""
    y = box["y"] + box["height"] * 0.4
    left, right = box["x"] + box["width"] * 0.1, box["x"] + box["width"] * 0.9

    def once(a: float, b: float) -> None:
        page.mouse.move(a, y)
        page.mouse.down()
        page.mouse.move(b, y, steps=30)
        page.mouse.up()
    before = page.get_by_test_id("chart").screenshot()
    once(left, right)
    page.wait_for_timeout(100)
    moved = page.get_by_test_id("chart").screenshot() != before
    page.evaluate(FRAMES)
    end, forward = time.time() + seconds, False
    while time.time() < end:
        once(*((left, right) if forward else (right, left)))
        forward = not forward
    page.evaluate("() => { window.__run = false; }")
    frames: list[float] = page.evaluate("() => window.__frames.slice(1)")
    return frames, moved


def frame_figures(frames: list[float]) -> dict[str, Any]:
    return {"frames": len(frames), "p50_ms": round(percentile(frames, 0.5), 1),
            "p95_ms": round(percentile(frames, 0.95), 1), "p99_ms": round(percentile(frames, 0.99), 1),
            "max_ms": round(max(frames, default=float("nan")), 1), "over_50ms": sum(f > 50 for f in frames),
            "fps": round(1000 * len(frames) / max(sum(frames), 1e-9), 1)}


def measure(base: str, key: str, desk_loads: int = 5, pan_s: float = 4.0, shots: Path | None = None) -> dict[str, Any]:
    """The figures (see the module's docstring) of the dashboard at ``base``, logged in with ``key``."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1440, "height": 900})
        page = ctx.new_page()
        scripts: dict[str, dict[str, int]] = {}

        def seen(req: Any) -> None:  # each script a page asks for, sized from the build (as gzip sends it)
            if req.resource_type == "script" and "/_next/" in req.url:
                f = BUILD / req.url.split("/_next/", 1)[1].split("?")[0]
                at = "/" + req.frame.url.split("//", 1)[-1].split("/", 1)[-1].split("?")[0]
                if f.is_file():
                    scripts.setdefault(at, {})[req.url] = len(gzip.compress(f.read_bytes(), 6))
        page.on("request", seen)
        page.goto(f"{base}/login/")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_function("() => location.pathname === '/'")
        # the desk page: first meaningful render (5 cards with their balance), cold then warm
        cards = "() => document.querySelectorAll('[data-testid^=account-] [data-testid=balance]').length === 5 " \
                "&& [...document.querySelectorAll('[data-testid=balance]')].every(e => e.textContent !== '–') " \
                "&& performance.now()"
        renders = []
        state = ctx.storage_state()  # the login (its token in localStorage), for a context with an empty cache
        cold = browser.new_context(viewport={"width": 1440, "height": 900}, storage_state=state)
        for i in range(desk_loads):
            at = cold.new_page() if i == 0 else page
            at.goto(f"{base}/", wait_until="commit")
            renders.append(float(at.wait_for_function(cards, polling="raf", timeout=30_000).json_value()))
        cold.close()
        out["desk_first_render_ms"] = {"loads": [round(r, 1) for r in renders], "first": round(renders[0], 1),
                                       "median": round(percentile(renders, 0.5), 1), "max": round(max(renders), 1)}
        if shots:
            page.screenshot(path=str(shots / "bench-desk.png"))
        # the blotter's first page of 10,000 orders
        page.goto(f"{base}/blotter/", wait_until="commit")
        rows = "() => document.querySelectorAll('table[data-testid=blotter-orders] tbody tr').length >= 50 " \
               "&& performance.now()"
        out["blotter_first_page_ms"] = round(float(page.wait_for_function(rows, polling="raf",
                                                                          timeout=30_000).json_value()), 1)
        # the chart: 50,000 bars, panned at its default zoom, then zoomed out to all of them
        t = time.perf_counter()
        page.goto(f"{base}/chart/?symbol=EURUSD&bars=50000")
        page.wait_for_function("() => (document.querySelector('[data-testid=chart-progress]')?.textContent || '')"
                               ".startsWith('50,000 bars') && document.querySelector('[data-testid=chart] canvas')",
                               timeout=120_000)
        page.wait_for_timeout(500)
        out["chart_load_s"] = round(time.perf_counter() - t, 2)
        box = page.get_by_test_id("chart").bounding_box()
        default, moved = drag(page, box, pan_s)
        in_view = "() => Number(document.querySelector('[data-testid=chart-shown]').dataset.bars)"
        default_view = page.evaluate(in_view)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.4)
        for _ in range(400):  # zoom out until every bar is in view (or the chart goes no further)
            page.mouse.wheel(0, 400)
            if page.evaluate(in_view) >= 50_000 * 0.99:
                break
        page.wait_for_timeout(500)
        wide_view = page.evaluate(in_view)
        wide, moved_wide = drag(page, box, pan_s)
        out["chart_pan_default_zoom"] = {**frame_figures(default), "chart_moved": moved, "bars_in_view": default_view}
        out["chart_pan_zoomed_out"] = {**frame_figures(wide), "chart_moved": moved_wide, "bars_in_view": wide_view}
        if shots:
            page.screenshot(path=str(shots / "bench-chart-50000.png"))
        for path in ("/agents/", "/runs/", "/story/"):
            page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle")
        browser.close()
    per_page = {p: sum(s.values()) for p, s in scripts.items()}
    every = {u: n for s in scripts.values() for u, n in s.items()}
    out["js_gzip_bytes"] = {"per_page": per_page, "largest_page": max(per_page.values(), default=0),
                            "every_script_loaded": sum(every.values())}
    out["js_gzip_bytes"]["whole_build"] = sum(len(gzip.compress(f.read_bytes(), 6)) for f in BUILD.rglob("*.js"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--bars", type=int, default=50_000)
    ap.add_argument("--loads", type=int, default=5, help="loads of the desk page (the first cold)")
    ap.add_argument("--pan-seconds", type=float, default=4.0)
    args = ap.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"{CHROMIUM} is missing: make browser-deps")
    if not (ROOT / "dashboard" / "out" / "index.html").is_file():
        raise SystemExit("the dashboard is not built: make dashboard")
    with tempfile.TemporaryDirectory(prefix="octet-dashbench-") as tmp:
        t = time.perf_counter()
        with dashboard_over(Path(tmp), args.orders, args.bars) as (base, key, counts):
            print(f"store: {counts} in {time.perf_counter() - t:.1f} s")
            figures = measure(base, key, args.loads, args.pan_seconds)
    write_results("dashboard", {
        "what": "the dashboard in Debian's Chromium (headless, software rendering) over the gateway's app under "
                "uvicorn, SQLite: desk page first meaningful render with 5 accounts and 10,000 orders; the chart "
                "panned over 50,000 one-minute bars (frame durations from requestAnimationFrame); gzipped JS",
        "store": counts, "targets": {"desk_first_render_ms": 1000, "js_gzip_bytes": 300 * 1024,
                                     "chart": "no janky frame (over 50 ms) while panning"},
        **figures, "machine": machine()})


if __name__ == "__main__":
    main()
