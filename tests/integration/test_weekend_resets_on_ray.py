"""The desk takes each firm day's reference at the reset instant, from the state just before it,
even when the reset falls between two batches: over the FX weekend a New York 17:00 firm resets on
Friday, Saturday and Sunday while no tick arrives."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import yaml

from cluster.adapters.feeds.replay.generator import generate_ticks
from cluster.config.settings import load_settings
from cluster.desk.session import Session
from tests.conftest import ROOT
from trading.market import datetime_to_ts

pytestmark = pytest.mark.ray


def test_resets_between_batches_over_the_weekend_take_the_reference_at_the_reset(ray_local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    doc["accounts"] = [{"id": "five", "firm": "the5ers.phase1", "balance": "100000"},
                       {"id": "ftmo", "firm": "ftmo.challenge", "balance": "100000"},
                       {"id": "topstep", "firm": "topstepx.combine", "balance": "50000"}]
    doc["runtime"]["data_dir"] = str(tmp_path)
    path = tmp_path / "weekend.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = load_settings(path)
    # Friday 2026-02-27 18:00 UTC to Monday: the market closes and reopens at 17:00 New York (22:00
    # UTC in winter), the instant New York 17:00 firms reset; a venue sends its first Sunday tick
    # a moment after it.
    ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), 9_000, 7,
                              datetime(2026, 2, 27, 18, 0, tzinfo=UTC))
    sunday_open = datetime_to_ts(datetime(2026, 3, 1, 22, 0, tzinfo=UTC))
    friday_close = datetime_to_ts(datetime(2026, 2, 27, 22, 0, tzinfo=UTC))
    assert not ((ticks.ts >= friday_close) & (ticks.ts < sunday_open)).any(), "no tick while the market is shut"
    ticks = ticks.take((ticks.ts < friday_close) | (ticks.ts > sunday_open))
    before_weekend = int(np.count_nonzero(ticks.ts < friday_close))
    assert 0 < before_weekend < len(ticks)
    # One batch ends on Friday's last tick, the next starts after Sunday's reset.
    settings = load_settings(path, session__batch_size=before_weekend)
    result = Session(settings, run_id="weekend").run(ticks)
    first, last = int(ticks.ts[0]), int(ticks.ts[-1])
    for acc in settings.accounts:
        rules = settings.firm_rules(acc)
        taken = {day: ref["at_ns"] for day, ref in result.compliance[acc.id]["day_references"].items()}
        resets = [t for t in rules.instants(first, last) if rules.next_reset_ns(t - 1) == t]
        assert sorted(taken.values())[1:] == resets, (acc.id, taken)  # the first: the session's start
        assert taken[str(rules.trading_day(first))] == first
        for t in resets:
            assert taken[str(rules.trading_day(t))] == t
        assert not result.compliance[acc.id]["breaches"]
    # The New York 17:00 firm: Friday's, Saturday's and Sunday's resets, all in the gap (a firm day
    # is named after the local date on which it starts).
    five = result.compliance["five"]["day_references"]
    assert [five[d]["at_ns"] for d in ("2026-02-27", "2026-02-28", "2026-03-01")] == \
        [datetime_to_ts(datetime(2026, m, d, 22, 0, tzinfo=UTC)) for m, d in ((2, 27), (2, 28), (3, 1))]
