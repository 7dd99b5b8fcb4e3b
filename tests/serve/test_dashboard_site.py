"""The gateway serves the dashboard's static build under / beside the API (no server needed: the
app is called in-process): pages by their directory, gzipped when asked, a policy that admits the
build's own inline scripts by hash and nothing else, the build's 404 page, nothing but the build's own files by their own paths,
the API's own 404s left as problem documents, and a clear page when nothing is built. Each account
says its firm's limits and when its day resets; the instruments are listed; the agents name Ray's
dashboard when the settings do."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path

from starlette.testclient import TestClient

from cluster.config.settings import load_settings
from cluster.storage.store import SessionStore
from serve import ui
from serve.app import build_app
from serve.keys import add_key
from tests.conftest import ROOT

INLINE = b"self.__next_f.push([1,'x'])"
PAGE = b"<!doctype html><html><head><script src=/_next/static/a.js></script><script>" + INLINE + \
       b"</script></head><body>" + b"desk " * 200 + b"</body></html>"


def build(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "chart").mkdir(parents=True)
    (out / "_next" / "static").mkdir(parents=True)
    (out / "index.html").write_bytes(PAGE)
    (out / "chart" / "index.html").write_bytes(PAGE.replace(b"desk", b"chart"))
    (out / "404.html").write_bytes(b"<!doctype html><title>404</title>not here")
    for copy in ("404", "_not-found"):  # as Next's export writes them: the same page again, and its payload
        (out / copy).mkdir()
        (out / copy / "index.html").write_bytes(b"<!doctype html><title>404</title>not here")
    (out / "_not-found" / "index.txt").write_bytes(b"payload")
    (out / "_next" / "static" / "a.js").write_bytes(b"console.log('octet');" * 100)
    (tmp_path / "secret.txt").write_text("outside the build")
    return out


def app(tmp_path: Path, site: object = "load", **overrides: object) -> tuple[TestClient, dict[str, str], SessionStore]:
    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / "data"), **overrides)
    store = SessionStore.sqlite(tmp_path / "data")
    keys = {"viewer": add_key(store.engine, "v", "viewer", by="tests")[1]}
    return TestClient(build_app(settings, store.engine, site=site)), keys, store


def test_pages_and_assets_are_served_with_a_policy_that_admits_only_the_builds_scripts(tmp_path: Path) -> None:
    out = build(tmp_path)
    client, _, store = app(tmp_path, gateway__dashboard_dir=str(out))
    with client as c:
        home = c.get("/", headers={"Accept-Encoding": "identity"})
        assert home.status_code == 200 and home.content == PAGE and home.headers["content-type"].startswith("text/html")
        policy = home.headers["content-security-policy"]
        digest = base64.b64encode(hashlib.sha256(INLINE).digest()).decode()
        assert f"script-src 'self' 'sha256-{digest}';" in policy and "unsafe-inline" not in policy.split("style-src")[0]
        assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert home.headers["x-frame-options"] == "DENY" and home.headers["cache-control"] == "no-cache"
        for path in ("/chart/", "/chart", "/chart/index.html"):
            assert b"chart chart" in c.get(path).content, path
        packed = c.get("/", headers={"Accept-Encoding": "gzip"})  # httpx unpacks it
        assert packed.headers["content-encoding"] == "gzip" and packed.content == PAGE
        js = c.get("/_next/static/a.js")
        assert js.headers["content-type"].startswith("text/javascript") and "immutable" in js.headers["cache-control"]
        assert c.head("/").status_code == 200 and c.head("/").content == b""
        missing = c.get("/nowhere/")
        assert missing.status_code == 404 and b"not here" in missing.content
        for own in ("/404.html", "/404", "/404/", "/404/index.html", "/_not-found", "/_not-found/",
                    "/_not-found/index.html"):  # the not-found page is never a page that was found (each was a 200)
            r = c.get(own)
            assert r.status_code == 404 and b"not here" in r.content, own
        for sneaky in ("/%2e%2e/secret.txt", "/chart/..%2f..%2fsecret.txt"):  # (httpx would fold a plain /../)
            r = c.get(sneaky)
            assert r.status_code == 404 and b"outside the build" not in r.content, sneaky
        api = c.get("/api/v1/nope")
        assert api.status_code == 404 and api.json()["type"] == "urn:octet:problem:not-found"
        nope = c.post("/api/v1/nope")  # answered as without the dashboard
        assert nope.status_code == 404 and nope.json()["type"] == "urn:octet:problem:not-found"
        assert c.post("/api/v1/accounts").status_code == 405
        assert c.post("/").status_code == 404
        head = c.head("/", headers={"Accept-Encoding": "identity"})
        assert head.headers["content-length"] == str(len(PAGE)) and head.content == b""
        assert c.get("/openapi.json").json()["info"]["title"] == "Octet API"  # the API's own routes come first
    store.close()


def test_without_a_build_the_root_says_how_to_make_one_and_the_api_still_answers(tmp_path: Path) -> None:
    client, keys, store = app(tmp_path, gateway__dashboard_dir=str(tmp_path / "empty"))
    with client as c:
        r = c.get("/")
        assert r.status_code == 503 and b"make dashboard" in r.content
        assert c.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"]}).status_code == 200
    store.close()
    off, _, store = app(tmp_path / "off", gateway__dashboard=False)
    with off as c:
        assert c.get("/").status_code == 404
    store.close()


def test_a_build_is_loaded_once_with_each_file_kept_and_gzipped(tmp_path: Path) -> None:
    site = ui.load(build(tmp_path))
    assert site is not None and site.not_found is not None
    a = site.find("/_next/static/a.js")
    assert a is not None and a.gzipped is not None and gzip.decompress(a.gzipped) == a.body
    assert site.find("/chart") is site.find("/chart/")
    # only the build's own files, by the path they have in it: no other path names anything
    assert set(site.assets) == {"/", "/index.html", "/chart/", "/chart/index.html", "/_next/static/a.js"}
    for sneaky in ("/../secret.txt", "/chart/../index.html", "/secret.txt", "/_next/static/../../secret.txt"):
        assert site.find(sneaky) is None, sneaky
    assert ui.load(tmp_path / "nothing") is None


def test_each_account_says_its_firms_limits_and_when_its_day_resets_and_the_instruments_are_listed(
        tmp_path: Path) -> None:
    from decimal import Decimal

    from sqlalchemy import insert

    from cluster.storage import models as m

    client, keys, store = app(tmp_path, site=None)
    with store.engine.begin() as conn:
        conn.execute(insert(m.Run.__table__), [{"run_id": "r1", "started_ns": 0, "status": "done", "ticks": 0,
                                                "batches": 0, "elapsed_s": 0.0, "settings": {}, "summary": None,
                                                "recorded_ns": 1}])
        conn.execute(insert(m.Account.__table__), [
            {"account_id": "ftmo-100k", "firm": "ftmo.challenge", "currency": "USD",
             "initial_balance": Decimal(100_000), "owner": "t", "profile": "default"},
            {"account_id": "gone", "firm": "no-such-firm.phase", "currency": "USD",
             "initial_balance": Decimal(1000), "owner": "t", "profile": "default"}])
        # Friday 6 March 2026 21:30 UTC = 22:30 in Prague: FTMO's next day starts at midnight there
        conn.execute(insert(m.EquityRow.__table__), [
            {"run_id": "r1", "account_id": "ftmo-100k", "ts_ns": 1_772_832_600_000_000_000,
             "balance": Decimal(100_000), "equity": Decimal(100_000), "min_equity": None, "open_positions": 0,
             "closed_trades": 0}])
    with client as c:
        items = {a["account_id"]: a for a in c.get("/api/v1/accounts", params={"run": "r1"},
                                                     headers={"X-API-Key": keys["viewer"]}).json()["items"]}
        rules = items["ftmo-100k"]["rules"]
        assert rules["timezone"] == "Europe/Prague" and rules["reset_time"] == "00:00"
        assert rules["resets_ns"] == 1_772_838_000_000_000_000  # 7 March 00:00 CET = 6 March 23:00 UTC
        assert rules["daily_loss_pct"] == "5" and rules["max_loss_pct"] == "10" and rules["max_loss_limit"] == "10000"
        assert items["gone"]["rules"] is None  # neither in the settings nor a preset
        symbols = [i["symbol"] for i in c.get("/api/v1/instruments", headers={"X-API-Key": keys["viewer"]})
                   .json()["items"]]
        assert symbols and "EURUSD" in symbols
    store.close()
    linked, keys, store = app(tmp_path / "ray", site=None, gateway__ray_dashboard_url="http://head:8265")
    with linked as c:
        assert c.get("/api/v1/agents", headers={"X-API-Key": keys["viewer"]}).json()["ray_dashboard"] == \
            "http://head:8265"
    store.close()


def test_the_apis_page_runs_swagger_ui_from_the_build_on_this_origin_and_says_so_without_a_build(tmp_path: Path) -> None:
    """/docs loads no other site's script beside the tokens the dashboard keeps on this origin: Swagger UI
    comes from the build's swagger/ folder, and the page's policy admits this origin and its own inline
    script only (the gateway used to serve FastAPI's page, which loads Swagger UI from a CDN)."""
    out = build(tmp_path)
    (out / "swagger").mkdir()
    (out / "swagger" / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = function () {};")
    client, _, store = app(tmp_path, gateway__dashboard_dir=str(out))
    with client as c:
        page = c.get("/docs")
        assert page.status_code == 200 and b'<script src="/swagger/swagger-ui-bundle.js">' in page.content
        assert b"http" not in page.content.lower(), "nothing named on another origin"
        policy = page.headers["content-security-policy"]
        [inline] = ui.INLINE_SCRIPT.findall(page.content)
        digest = base64.b64encode(hashlib.sha256(inline).digest()).decode()
        assert f"script-src 'self' 'sha256-{digest}';" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert c.get("/swagger/swagger-ui-bundle.js").status_code == 200
    store.close()
    bare, _, store = app(tmp_path / "bare", gateway__dashboard_dir=str(tmp_path / "empty"))
    with bare as c:
        r = c.get("/docs")
        assert r.status_code == 503 and b"make dashboard" in r.content and b"/openapi.json" in r.content
        assert "script-src 'self' ;" in r.headers["content-security-policy"]
    store.close()
    off, _, store = app(tmp_path / "off", gateway__dashboard=False, gateway__dashboard_dir=str(out))
    with off as c:
        r = c.get("/docs")  # the build is there, but the dashboard is turned off: it says so, not "make dashboard"
        assert r.status_code == 503 and b"gateway.dashboard: false" in r.content and b"make dashboard" not in r.content
    store.close()
