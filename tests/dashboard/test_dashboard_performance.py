"""The dashboard over a store the size a busy desk reaches (5 accounts, 10,000 orders, 50,000 bars),
measured in Chromium by bench/dashboard.py's own code: the desk page renders its 5 cards, the
blotter its first page of orders, the chart takes all 50,000 bars, zooms out to show every one of
them, and moves when dragged while its frames are timed, and no page ships over 300 KB of gzipped JavaScript. The times are printed, not
asserted (the machine's speed drifts): bench/results/dashboard.json holds the published figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.dashboard import CHROMIUM, dashboard_over, measure
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
OUT = Path(os.environ.get("OCTET_TEST_OUTPUT", ROOT / "var" / "test-output")) / "dashboard"


def test_the_dashboard_over_5_accounts_10000_orders_and_50000_bars(tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with dashboard_over(tmp_path, orders=10_000, bars=50_000) as (base, key, counts):
        assert counts == {"OrderRow": 10_000, "BarRow": 50_000, "Account": 5}
        got = measure(base, key, desk_loads=3, pan_s=2.0, shots=OUT)
    print(f"\ndesk first render {got['desk_first_render_ms']}, blotter {got['blotter_first_page_ms']} ms, chart "
          f"load {got['chart_load_s']} s, pan {got['chart_pan_default_zoom']}, zoomed out {got['chart_pan_zoomed_out']}, "
          f"JS {got['js_gzip_bytes']}")
    assert len(got["desk_first_render_ms"]["loads"]) == 3  # each load reached its 5 cards with a balance
    for pan in (got["chart_pan_default_zoom"], got["chart_pan_zoomed_out"]):
        assert pan["chart_moved"] and pan["frames"] >= 30, pan
    assert got["chart_pan_zoomed_out"]["bars_in_view"] >= 49_500, got["chart_pan_zoomed_out"]  # every bar, panned
    js = got["js_gzip_bytes"]
    assert set(js["per_page"]) >= {"/", "/chart/", "/blotter/"}, js
    assert js["largest_page"] <= 300 * 1024, js
