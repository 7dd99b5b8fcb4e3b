"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a real desk:
`octet desk start` with its gateway on Ray Serve, its live state in Redis, rust_exec behind it.

A viewer logs in and sees each account as the API has it, and no control; a fill the desk books
reaches the blotter and the chart within 2 s of its publication; the chart marks a spring the
detector found on its bar and the latest signal's stop and targets; an order's story, opened from
the blotter in the run the blotter named, lists the saga's steps in order (an execution step for
each leg the style step made); an admin's halt halts the desk and rust_exec (asked directly) reports
halted, and the page says so; the alerts not yet acknowledged are listed as the API has them, and an
admin's acknowledgement with a note is listed with their name; each page's screenshot is written to the test output and is not blank.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cluster.config.secrets import state_key
from cluster.config.settings import load_settings
from cluster.desk.desk import DeskFiles
from cluster.desk.session import OPERATOR_VENUE_HALT
from cluster.devservers.services import LocalRedis
from cluster.storage.store import SessionStore
from serve.keys import add_key
from tests.conftest import ROOT
from tests.serve.test_gateway_on_serve import free_port
from tests.serve.test_gateway_with_desk import with_gateway

pytestmark = [pytest.mark.ray, pytest.mark.browser]
API = "/api/v1"
CHROMIUM = "/usr/bin/chromium"
# as root, with the machine's closed network: no sandbox, no background connections (docs/dashboard.md)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
OUT = Path(os.environ.get("OCTET_TEST_OUTPUT", ROOT / "var" / "test-output")) / "dashboard"
STEPS = ["risk", "correlation", "style", "compliance", "execution"]


class Desk:
    def __init__(self, base: str, keys: dict[str, str], settings: Any, files: DeskFiles) -> None:
        self.base, self.keys, self.settings, self.files = base, keys, settings, files
        self.http = httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": keys["viewer"]})

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(f"{API}{path}", params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium")
    tmp = tmp_path_factory.mktemp("dash")
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["runtime"]["data_dir"] = str(tmp)
    doc["runtime"]["live"] = "redis"  # the stream's source: a local Redis under data_dir
    doc.setdefault("session", {}).update(ticks=200_000, batch_size=500)
    doc.setdefault("storage", {})["record_ticks"] = True  # the chart's bars
    doc["desk"] = {"speed": 1_500.0}  # ~4 min of wall time: trading all through the tests (stopped below)
    doc["firms"]["trailing_funded"]["activity"] = {"max_idle_days": 30}  # funded-50k: an inactivity rule
    # and a news rule, whose calendar (the sample's, to 12 December) ends within the year's lead: an alert standing
    doc["firms"]["trailing_funded"]["news"] = {"minutes_before": 2, "minutes_after": 2}
    doc["desk"]["warn_news_days"] = 365
    doc["gateway"] = {"port": free_port()}
    # pass odds from the first day: a backtest's trades as the prior (the account has no days of its own yet)
    prior = tmp / "prior_trades.csv"
    prior.write_text("closed_utc,r_multiple\n" + "".join(
        f"2025-06-{2 + i:02d}T15:00:00+00:00,{2.0 if i % 3 == 0 else -1.0}\n" for i in range(25)))
    doc.setdefault("agents", {}).setdefault("compliance", {})["pass_odds"] = {"prior_trades": str(prior),
                                                                             "paths": 2000}
    config = tmp / "desk.yaml"
    config.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "cluster.cli", "desk"]
    started = subprocess.run([*cli, "start", "--config", str(config)], env=env, capture_output=True, text=True,
                             timeout=300, cwd=ROOT)
    assert started.returncode == 0, started.stdout + started.stderr
    files = DeskFiles(tmp, state_key(tmp))
    try:
        meta = with_gateway(files)
        store = SessionStore.sqlite(tmp)
        keys = {role: add_key(store.engine, f"browser-{role}", role, by="tests")[1] for role in ("viewer", "admin")}
        store.close()
        d = Desk(meta["gateway"], keys, load_settings(config), files)
        yield d
        d.http.close()
    finally:
        stopped = subprocess.run([*cli, "stop", "--config", str(config)], env=env, capture_output=True, text=True,
                                 timeout=300, cwd=ROOT)
        LocalRedis(tmp / "redis").stop()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def browser(desk: Desk) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def logged_in(browser: Any, desk: Desk, role: str, path: str = "/") -> Any:
    """A new page, logged in as ``role`` through the login form, then at ``path``."""
    page = watched(browser.new_context(viewport={"width": 1440, "height": 900}).new_page())
    page.goto(desk.base + path)
    page.wait_for_url("**/login/**")
    page.get_by_label("API key").fill(desk.keys[role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function("p => location.pathname === p", arg=path.split("?")[0], timeout=15_000)
    return page


def watched(page: Any) -> Any:
    """``page``, its uncaught script errors gathered in ``page.errors``."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def until(check: Callable[[], Any], seconds: float, what: str, every: float = 0.3) -> Any:
    deadline = time.time() + seconds
    while True:
        got = check()
        if got:
            return got
        assert time.time() < deadline, f"{what} (within {seconds:.0f} s)"
        time.sleep(every)


def shot(page: Any, name: str) -> Path:
    """A screenshot in the test output, checked not to be blank (many colours, not one flat field)."""
    from PIL import Image, ImageStat

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    img = Image.open(path).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    spread = sum(ImageStat.Stat(img).stddev) / 3
    assert colours is None or len(colours) > 50, f"{path}: {len(colours)} colours: blank?"
    assert spread > 8, f"{path}: pixel spread {spread:.1f}: blank?"
    return path


def money(v: str | None, currency: str) -> str:
    return "–" if v is None else f"{Decimal(v):,.2f} {currency}"


def test_a_viewer_sees_each_account_as_the_api_has_it_and_no_control(browser: Any, desk: Desk) -> None:
    page = logged_in(browser, desk, "viewer")
    until(lambda: desk.get("/accounts")["items"][0]["balance"], 120, "the desk has not recorded its accounts")

    def same() -> bool:  # the desk trades on: the page and the API agree at one moment
        api = desk.get("/accounts")["items"]
        for a in api:
            card = page.get_by_test_id(f"account-{a['account_id']}")
            if card.count() != 1:
                return False
            shown = (card.get_by_test_id("balance").inner_text(), card.get_by_test_id("equity").inner_text(),
                     card.get_by_test_id("daily-headroom").inner_text(),
                     card.get_by_test_id("max-loss-headroom").inner_text())
            want = (money(a["balance"], a["currency"]), money(a["equity"], a["currency"]),
                    a["headroom"]["daily_headroom"] or "", a["headroom"]["max_loss_headroom"])
            if shown != want:
                return False
        return len(api) >= 2
    until(same, 30, "the account cards never showed what the API does", every=0.5)
    assert page.get_by_role("meter", name="Max loss headroom").count() >= 2

    def odds_shown() -> bool:  # the pass-odds monitor's answer, as the API has it
        api = desk.get("/accounts")["items"]
        with_odds = [a for a in api if a["headroom"] and a["headroom"]["hard_breach_probability"] is not None]
        for a in with_odds:
            card = page.get_by_test_id(f"account-{a['account_id']}")
            if card.get_by_test_id("hard-breach-probability").inner_text() != \
                    f"{a['headroom']['hard_breach_probability'] * 100:.1f}%":
                return False
        return bool(with_odds)
    until(odds_shown, 60, "no account card showed the pass odds the API has", every=0.5)
    # the inactivity rule's deadline on the card of the account whose firm has one, and on no other
    idle = {a["account_id"]: a["headroom"]["idle_deadline_ns"] for a in desk.get("/accounts")["items"]}
    assert idle["funded-50k"] and idle["ftmo-100k"] is None, idle
    shown = page.get_by_test_id("account-funded-50k").get_by_test_id("idle-deadline").inner_text()
    assert "days left" in shown and "UTC" in shown, shown
    assert page.get_by_test_id("account-ftmo-100k").get_by_test_id("idle-deadline").count() == 0
    # the alert the desk raised ahead of the news calendar's end, as `desk status` has it, on the desk's page
    alert = page.get_by_test_id("desk-alerts").get_by_role("status")
    alert.first.wait_for(timeout=30_000)
    assert alert.count() == 1, alert.all_inner_texts()
    shown = alert.inner_text()
    assert "stops covering orders at 2026-12-13 00:00 UTC: from then every order of funded-50k is refused" in shown, shown
    assert [a["trigger"] for a in desk.get("/alerts")["items"] if a["kind"] == "warning"] == ["news_calendar"]
    # open positions stay inside their card: a table wider than it scrolls sideways in it (read at one moment)
    inside = until(lambda: page.evaluate("""() => [...document.querySelectorAll('[role=region][aria-label^="Open positions of"]')]
        .map(r => { const card = r.closest('article').getBoundingClientRect(), box = r.getBoundingClientRect();
                    const table = r.querySelector('table').getBoundingClientRect();
                    const clips = ['auto', 'scroll', 'hidden'].includes(getComputedStyle(r).overflowX);
                    return box.right <= card.right + 0.5 && (table.right <= card.right + 0.5 || clips); })"""),
                   60, "no card showed an open position")
    assert all(inside), f"a card's open positions are drawn past its edge: {inside}"
    # the alerts not yet acknowledged, as GET /alerts?unacked=true lists them: a viewer reads them, with no button
    panel = page.get_by_test_id("alerts")
    panel.wait_for(timeout=30_000)

    def listed() -> bool:
        want = [a["alert_id"] for a in desk.get("/alerts", unacked="true", limit=200)["items"]]
        return bool(want) and [r.get_attribute("data-alert") for r in panel.get_by_test_id("alert-row").all()] == want
    until(listed, 15, "the alerts panel never listed what GET /alerts?unacked=true does", every=0.5)
    assert "news calendar" in panel.inner_text() and "funded-50k" in panel.inner_text()
    # a viewer sees no control at all
    assert panel.get_by_role("button").count() == 0
    assert page.get_by_test_id("kill-switch").count() == 0
    assert page.get_by_role("button", name="Halt the desk").count() == 0
    assert page.get_by_test_id("whoami").inner_text().endswith("viewer")
    assert not page.errors, page.errors


def test_a_fill_the_desk_books_reaches_the_blotter_and_the_chart_within_2_s(browser: Any, desk: Desk) -> None:
    blotter = logged_in(browser, desk, "viewer", "/blotter/")
    blotter.get_by_role("tab", name="Fills").click()
    symbols = [i["symbol"] for i in desk.get("/instruments")["items"]]
    charts = {}
    for sym in symbols:  # the next fill may be of any instrument: a chart of each
        charts[sym] = watched(blotter.context.new_page())
        charts[sym].goto(f"{desk.base}/chart/?symbol={sym}")
        charts[sym].get_by_test_id("chart").wait_for(timeout=30_000)
    # a fill published before a chart's stream was up is not that chart's to show live: only a fill the
    # blotter saw after every chart (and the blotter) said its stream was live counts
    for page in (blotter, *charts.values()):
        page.get_by_text("stream live").wait_for(timeout=30_000)
    since_ms = blotter.evaluate("Date.now()")

    def fresh() -> Any:
        return next((r for r in blotter.query_selector_all("tr[data-live='1']")
                     if int(r.get_attribute("data-seen-ms") or 0) > since_ms), None)

    row = until(fresh, 150, "no fill reached the blotter live")
    # read in one go: the row's attributes and its price cell as one moment shows them (read one by one,
    # a fill arriving in between could be read half from one row's state and half from another's)
    got = row.evaluate("r => ({order: r.dataset.order, seq: r.dataset.seq, at: r.dataset.atUs, "
                       "seen: r.dataset.seenMs, price: r.cells[5].innerText})")
    order, seq = got["order"], got["seq"]  # seq: the stream's number of the fill's message
    at_ms = int(got["at"]) / 1000  # when the desk published it (Redis's clock)
    blotter_ms = int(got["seen"]) - at_ms
    price = got["price"]
    def in_store() -> Any:  # every page: a desk that has run long (a slow machine) holds more than one
        cursor: str | None = None
        while True:
            page = desk.get("/fills", limit=1000, **({"cursor": cursor} if cursor else {}))
            hit = next((f for f in page["items"] if f["client_order_id"] == order and f["price"] == price), None)
            if hit is not None or not page["next_cursor"]:
                return hit
            cursor = page["next_cursor"]

    fill = until(in_store, 30, f"the blotter's fill of {order} at {price} is not in the store")
    chart = charts[fill["symbol"]]
    mark = until(lambda: chart.query_selector(f"tr[data-live='1'][data-seq='{seq}']"), 10,
                 "the fill is not on its instrument's chart")
    chart_ms = int(mark.get_attribute("data-seen-ms")) - at_ms
    print(f"\nfill {order}: blotter {blotter_ms:.0f} ms, chart {chart_ms:.0f} ms after the desk published it")
    assert 0 <= blotter_ms <= 2000 and 0 <= chart_ms <= 2000, (blotter_ms, chart_ms)
    assert mark.query_selector("td.num").text_content() == fill["price"]  # (in a closed <details>: no inner text)
    for p in (blotter, *charts.values()):
        assert not p.errors, p.errors
    blotter.context.close()


def test_an_order_streamed_to_the_blotter_takes_the_status_its_reports_give(browser: Any, desk: Desk) -> None:
    """A streamed order's row stayed "new" with no time placed, while the store had it filled: its reports, which
    come on the same topic, now update it."""
    page = logged_in(browser, desk, "viewer", "/blotter/")  # the orders tab first
    page.get_by_text("stream live").wait_for(timeout=30_000)
    since_ms = page.evaluate("Date.now()")

    def settled() -> Any:  # a streamed order whose status a report has moved on (read in one go)
        return page.evaluate("""since => [...document.querySelectorAll("tr[data-live='1']")]
            .filter(r => Number(r.dataset.seenMs) > since)
            .map(r => ({order: r.dataset.order, status: r.cells[8].innerText, placed: r.cells[9].innerText}))
            .find(r => r.status !== "new")""", since_ms)
    row = until(settled, 150, "no streamed order left the status new")
    assert row["placed"] not in ("", "–"), row

    def stored() -> Any:
        cursor: str | None = None
        while True:
            got = desk.get("/orders", limit=1000, **({"cursor": cursor} if cursor else {}))
            hit = next((o for o in got["items"] if o["client_order_id"] == row["order"]), None)
            if hit is not None or not got["next_cursor"]:
                return hit
            cursor = got["next_cursor"]
    order = until(stored, 30, f"{row['order']} is not in the store")
    assert order["status"] != "new" and order["placed_ns"], order
    assert not page.errors, page.errors
    page.context.close()


def test_the_chart_lists_a_detected_springs_mark_at_its_bar_and_the_latest_signals_stop_and_targets(
        browser: Any, desk: Desk) -> None:
    """(The marks and lines are drawn on a canvas from the same arrays the page lists them from.)"""
    symbols = [i["symbol"] for i in desk.get("/instruments")["items"]]

    def spring() -> tuple[str, int, dict[str, Any]] | None:
        for sym in symbols:
            bars = desk.get(f"/instruments/{sym}/bars", seconds=60, limit=5000)
            found = [e for e in bars["events"] if e["event"] == "spring"]
            if found and bars["signals"] and not bars["truncated"]:
                return sym, found[-1]["bar_ts_ns"], bars["signals"][-1]
        return None
    sym, bar_ns, signal = until(spring, 180, "the detector found no spring on any instrument", every=3)
    page = logged_in(browser, desk, "viewer", f"/chart/?symbol={sym}")
    page.get_by_test_id("chart").wait_for(timeout=30_000)
    page.get_by_text("What the chart marks").click()
    springs = page.locator("tr[data-kind='event'][data-label='spring']")
    until(lambda: springs.count() > 0, 20, "no spring on the chart")
    assert str(bar_ns - bar_ns % 60_000_000_000) in [springs.nth(i).get_attribute("data-bar-ns")
                                                     for i in range(springs.count())]
    lines = page.get_by_test_id("chart-lines")
    latest = until(lambda: lines.locator("[data-line='stop']").inner_text() and lines, 10, "no signal lines")
    shown_stop = latest.locator("[data-line='stop']").inner_text()
    shown_targets = [t.inner_text().rstrip(", ") for t in latest.locator("[data-line='target']").all()]
    # the latest signal the page read (the desk may have added one since: it is then that one or the one before),
    # from the bars since the latest signal found above: the first 5,000 bars of a desk that has run long (a
    # slow machine) end before it, and their window holds none of the newer signals
    signals = desk.get(f"/instruments/{sym}/bars", seconds=60, limit=5000,
                       from_ns=int(signal["ts_ns"]) - 60_000_000_000)["signals"]
    latest = [(s["stop"], s["targets"]) for s in sorted(signals, key=lambda s: s["ts_ns"])[-2:]]
    assert (shown_stop, shown_targets) in latest, (shown_stop, shown_targets, latest)
    shot(page, "chart")
    assert not page.errors, page.errors
    page.context.close()


def test_an_orders_story_in_its_run_lists_the_sagas_steps_in_order_with_their_verdicts(browser: Any, desk: Desk) -> None:
    page = logged_in(browser, desk, "viewer", "/blotter/")
    link = page.locator("table[data-testid='blotter-orders'] a").first
    until(lambda: link.count() > 0, 60, "no order in the blotter")
    order = link.inner_text()
    # the desk goes on trading and the blotter refreshes: from here on, that order's own link (the first row
    # may be a newer order by the time of the click)
    link = page.locator("table[data-testid='blotter-orders'] a", has_text=order).first
    run = desk.get("/orders", limit=1)["run_id"]
    assert link.get_attribute("href").endswith(f"&run={run}")  # ids repeat across runs: the link names its run
    with page.expect_request(lambda r: "/story" in r.url and "/api/" in r.url) as asked:
        link.click()
    assert f"/orders/{order}/story?run={run}" in asked.value.url  # the page asks for the order in that run
    page.wait_for_url("**/story/**")
    steps = page.get_by_test_id("saga-steps").get_by_test_id("saga-step")
    until(lambda: steps.count() >= 5, 20, "the story shows no saga steps")
    names = [steps.nth(i).get_by_test_id("step-name").inner_text() for i in range(steps.count())]
    verdicts = [steps.nth(i).get_by_test_id("step-verdict").inner_text() for i in range(steps.count())]
    story = desk.get(f"/orders/{order}/story", run=run)["items"]
    decisions = [r["payload"] for r in story if r["kind"] == "decision"]
    # the execution step sends each leg the style step made (a laddered profile makes several), each named
    legs = int(next(d["reason"] for d in decisions if d["step"] == "style").split(" leg")[0])
    assert names == STEPS + ["execution"] * (legs - 1), names
    sent = [d["reason"].split()[0] for d in decisions if d["step"] == "execution"]
    assert order in sent and len(set(sent)) == legs, (order, sent)
    assert list(zip(names, verdicts, strict=True)) == [(d["step"], d["outcome"]) for d in decisions]
    assert all(verdicts), verdicts
    assert page.get_by_test_id("story-signal").count() == 1
    assert page.get_by_test_id("story-run").inner_text() == f"in run {run}"
    shot(page, "story")
    page.context.close()


def test_every_page_renders_and_its_screenshot_is_not_blank(browser: Any, desk: Desk) -> None:
    page = logged_in(browser, desk, "viewer")
    page.get_by_test_id("desk-state").wait_for()
    until(lambda: page.locator("[data-testid^='account-']").count() >= 2, 30, "no account card")
    shot(page, "desk")
    for path, name, ready in (("/blotter/", "blotter", "table[data-testid='blotter-orders'] tbody tr"),
                              ("/agents/", "agents", "table[data-testid='agents'] tbody tr"),
                              ("/runs/", "runs", "table[data-testid='runs'] tbody tr")):
        page.get_by_role("link", name=name.capitalize()).click()
        page.wait_for_url(f"**{path}")
        page.wait_for_selector(ready, timeout=30_000)
        time.sleep(1.0)  # the run cards' curves
        shot(page, name)
        if name == "runs":  # the desk's run is still going: its counts come when it ends, not 0 ticks and 0.0 s
            running = page.locator("table[data-testid='runs'] tbody tr", has_text=desk.files.meta()["run_id"])
            assert running.locator("td").nth(2).inner_text() == "running", running.inner_text()
            assert [running.locator("td").nth(i).inner_text() for i in (4, 5)] == ["–", "–"], running.inner_text()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/**")
    shot(page, "login")
    assert not page.errors, page.errors
    page.context.close()


def test_the_apis_page_renders_its_routes_with_nothing_from_another_origin_and_no_policy_violation(
        browser: Any, desk: Desk) -> None:
    page = watched(browser.new_context(viewport={"width": 1440, "height": 900}).new_page())
    asked: list[str] = []
    blocked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(desk.base + "/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/accounts']", timeout=30_000)  # Swagger UI ran and read /openapi.json
    assert page.locator(".opblock").count() > 20
    shot(page, "api-docs")
    assert asked and all(u.startswith(desk.base) or u.startswith("data:") for u in asked), asked
    assert not blocked and not page.errors, (blocked, page.errors)
    page.context.close()


def test_an_admin_acknowledges_an_alert_with_a_note_which_the_api_then_lists_with_their_name(browser: Any,
                                                                                               desk: Desk) -> None:
    page = logged_in(browser, desk, "admin")
    warning = next(a for a in desk.get("/alerts", unacked="true")["items"] if a["kind"] == "warning")
    row = page.locator(f"[data-testid=alert-row][data-alert='{warning['alert_id']}']")
    row.wait_for(timeout=30_000)
    assert warning["action"] in row.inner_text()
    row.get_by_role("button", name="Acknowledge").click()
    dialog = page.get_by_role("dialog")
    assert warning["action"] in dialog.inner_text()  # what is acknowledged, before it is sent
    dialog.get_by_label("What you saw or did").fill("browser test: the next export\nis written")  # two lines typed
    dialog.get_by_role("button", name="Yes, acknowledge").click()
    result = page.get_by_test_id("ack-result")
    until(lambda: result.count() == 1 and f"acknowledged {warning['alert_id']}" in result.inner_text(), 30,
          "the desk did not answer the acknowledgement")

    def recorded() -> Any:
        return next((a for a in desk.get("/alerts")["items"]
                     if a["alert_id"] == warning["alert_id"] and a["acked_by"]), None)
    acked = until(recorded, 30, "GET /alerts does not list the acknowledgement")
    assert acked["acked_by"].startswith("api:browser-admin (") and acked["ack_note"] == "browser test: the next export is written", acked
    until(lambda: row.count() == 0, 15, "the acknowledged alert is still listed to acknowledge")
    assert not page.errors, page.errors
    page.context.close()


def test_an_admins_halt_halts_the_desk_and_rust_exec_and_the_page_says_so(browser: Any, desk: Desk) -> None:
    from cluster.adapters.rust_exec.client import GrpcExecutionClient
    from cluster.adapters.rust_exec.process import exec_credentials

    page = logged_in(browser, desk, "admin")
    account = desk.get("/accounts")["items"][0]["account_id"]

    def steer(action: str, reason: str) -> str:
        r = desk.http.post(f"{API}/desk/{action}", headers={"X-API-Key": desk.keys["admin"]},
                           json={"account": account, "reason": reason, "wait_seconds": 20})
        assert r.status_code == 200, r.text
        return str(r.json())
    # an account halted on its own is marked on its card (the page read only the desk's halt)
    assert "halted" in steer("halt", "browser test: one account")
    card_halt = page.get_by_test_id(f"account-{account}").get_by_test_id("account-halted")
    until(lambda: card_halt.count() == 1, 15, "the account's card does not say it is halted")
    assert "browser test: one account" in card_halt.inner_text() and "admin" in card_halt.inner_text()
    switch = page.get_by_test_id("kill-switch")
    switch.get_by_role("button", name="Halt the desk").click()
    dialog = page.get_by_role("dialog")
    assert "rust_exec refuses every new order" in dialog.inner_text()  # it names its effect
    dialog.get_by_label("Why").fill("browser test:\nNFP")  # a line break typed in the box: sent as a space
    dialog.get_by_role("button", name="Yes, halt").click()
    result = page.get_by_test_id("kill-result")
    until(lambda: "halted the desk" in result.inner_text(), 30, "the desk did not answer the halt")
    assert "rust_exec refuses new orders" in result.inner_text(), result.inner_text()
    run_id = desk.files.meta()["run_id"]
    address = desk.files.for_run(run_id).load()[0]["exec_address"]
    venue = GrpcExecutionClient(address, desk.settings.registry(), credentials=exec_credentials(desk.settings),
                                catch_up=False)
    try:
        health = venue.health()
        assert health.halted and health.halt_reason.startswith(OPERATOR_VENUE_HALT), health
        assert "admin" in health.halt_reason and "browser test: NFP" in health.halt_reason
        until(lambda: page.get_by_test_id("desk-halted").count() == 1, 15, "the page does not say the desk is halted")
        assert "browser test: NFP" in page.get_by_test_id("desk-halted").inner_text()
        until(lambda: page.get_by_test_id("venue-halted").count() == 1, 30, "the page does not say rust_exec halted")
        shot(page, "desk-halted")
        # and lifted the same way
        switch.get_by_role("button", name="Resume").click()
        assert "An account halted on its own stays halted" in dialog.inner_text()  # the desk's resume does not lift it
        dialog.get_by_label("Why").fill("browser test: done")
        dialog.get_by_role("button", name="Yes, resume").click()
        until(lambda: "resumed the desk" in result.inner_text(), 30, "the desk did not answer the resume")
        assert not venue.health().halted
        assert card_halt.count() == 1 and desk.get("/desk")["status"]["accounts"][account]["operator_halt"]
        steer("resume", "browser test: the account too")
        until(lambda: card_halt.count() == 0, 15, "the account's card still says it is halted once resumed")
    finally:
        venue.close()
    assert not page.errors, page.errors
    page.context.close()


def test_on_a_store_with_no_run_or_a_run_with_no_account_yet_the_desk_page_says_which(browser: Any, tmp_path: Path) -> None:
    """The page asked /desk and /accounts together and, on /accounts' 404 (no run), kept neither: it stayed on
    "Loading the accounts…" with the desk's state "…". (The app under plain uvicorn, on an empty store.)"""
    import threading

    import uvicorn

    from serve.app import build_app

    store = SessionStore.sqlite(tmp_path)
    key = add_key(store.engine, "empty-viewer", "viewer", by="tests")[1]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path)),
                                                     store.engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        until(lambda: server.started, 30, "the gateway did not start")
        page = watched(browser.new_context(viewport={"width": 1440, "height": 900}).new_page())
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_url("**/login/**")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Log in").click()
        until(lambda: page.get_by_test_id("no-accounts").count() == 1, 20, "the page does not say no run is recorded")
        assert page.get_by_test_id("desk-state").inner_text() == "no desk running"
        assert page.get_by_text("Loading the accounts").count() == 0
        assert "No run is recorded" in page.get_by_test_id("no-accounts").inner_text()
        from cluster.storage.models import Run

        with store.engine.begin() as conn:  # a run that has written no account yet: not "no run"
            conn.execute(Run.__table__.insert().values(run_id="r-empty", started_ns=0, status="running", settings={},
                                                       summary=None, recorded_ns=1))
        page.reload()
        until(lambda: "has recorded no account yet" in (page.get_by_test_id("no-accounts").all_inner_texts() or [""])[0],
              20, "the page does not say the run has no account yet")
        assert "Run r-empty" in page.get_by_test_id("no-accounts").inner_text()
        assert not page.errors, page.errors
        page.context.close()
    finally:
        server.should_exit = True
        thread.join(30)
        store.close()
