"""Settings fail readably; the replay feed is deterministic and realistic; files round-trip."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cluster.adapters.feeds.files import DataFileError, FileSpec, load_market_files
from cluster.adapters.feeds.replay import generate_ticks
from cluster.cli import app
from cluster.config.settings import SettingsError, load_settings
from trading.wyckoff import WyckoffParams

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((ROOT / "octet.yaml").read_text())
    change(data)
    path = tmp_path / "octet.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_invalid_value_names_its_key(tmp_path) -> None:
    path = write(tmp_path, lambda d: d["accounts"][0].update(balance="-5"))
    with pytest.raises(SettingsError, match=r"accounts\.0\.balance: Input should be greater than 0"):
        load_settings(path)


def test_a_start_the_generator_cannot_represent_and_a_bad_spike_factor_are_named(tmp_path) -> None:
    for when in ("2262-04-12T00:00:00Z", "1900-01-01T00:00:00Z"):  # times are int64 nanoseconds from 1970
        with pytest.raises(SettingsError, match=r"session\.start: .* is out of range \(1971 to 2199"):
            load_settings(write(tmp_path, lambda d, w=when: d["session"].update(start=w)))
    assert load_settings(write(tmp_path, lambda d: d["session"].update(start="2199-12-31T00:00:00Z"))).session.start.year == 2199
    with pytest.raises(SettingsError, match=r"session\.data_spike_factor: 1\.2: 0 \(no check\) or at least 1\.5"):
        load_settings(write(tmp_path, lambda d: d["session"].update(data_spike_factor=1.2)))


def test_an_unknown_firm_and_an_unknown_key_are_named(tmp_path) -> None:
    with pytest.raises(SettingsError, match=r"accounts\.1\.firm: unknown firm 'nope'"):
        load_settings(write(tmp_path, lambda d: d["accounts"][1].update(firm="nope")))
    with pytest.raises(SettingsError, match=r"session\.tiks"):
        load_settings(write(tmp_path, lambda d: d["session"].update(tiks=5)))


def test_wyckoff_thresholds_are_typed_and_named(tmp_path) -> None:
    path = write(tmp_path, lambda d: d["agents"].update(analysis={"swing_orders": [3, 8], "atr_period": 14,
                                                                  "climax_volume": 2.8}))
    p = load_settings(path).wyckoff_params()
    assert p.swing_orders == (3, 8) and p.atr_period == 14 and isinstance(p.atr_period, int) and p.climax_volume == 2.8
    with pytest.raises(SettingsError, match=r"agents\.analysis\.climax_vol: unknown Wyckoff threshold"):
        load_settings(write(tmp_path, lambda d: d["agents"].update(analysis={"climax_vol": 3})))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.atr_period: a whole number from 1 to 100,000"):
        load_settings(write(tmp_path, lambda d: d["agents"].update(analysis={"atr_period": 2.5})))


def test_the_range_gate_is_set_from_0_off_to_below_1_and_refused_otherwise(tmp_path) -> None:
    """0 turns the gate off; a score of 1 or more (or true, read as 1) would drop every range in
    silence, as would one above the highest score the shipped trees give, and infinity or a negative
    means nothing: each is refused by name. Off, round 5's thresholds can be set back."""
    def gate_min(value):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis={"gate_min": value}))

    assert load_settings(gate_min(0)).wyckoff_params().gate_min == 0.0
    assert load_settings(gate_min(0.2)).wyckoff_params().gate_min == 0.2
    for bad in (1, 1.5, True, float("inf"), -0.1):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.gate_min: the range gate's least score"):
            load_settings(gate_min(bad))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.gate_min: gate_min 0.995 is above the highest score"):
        load_settings(gate_min(0.995))
    round_5 = write(tmp_path, lambda d: d["agents"].update(analysis={"gate_min": 0, "ar_min_atr": 6, "climax_volume": 3}))
    p = load_settings(round_5).wyckoff_params()
    assert (p.gate_min, p.ar_min_atr, p.climax_volume) == (0.0, 6.0, 3.0)
    with pytest.raises(SettingsError, match=r"agents\.analysis\.climax_volume: a number above 0, at most 1,000,000"):
        load_settings(write(tmp_path, lambda d: d["agents"].update(analysis={"climax_volume": float("inf")})))


def test_the_climax_effort_rank_is_a_share_from_0_off_to_below_1_over_a_bounded_window(tmp_path) -> None:
    """``climax_rank`` is the share of the bars before that a climax's effort must beat: 0 turns it
    off; 1 or more could never be met, and a negative, infinity or true mean nothing. ``rank_bars``,
    the window the live tracker keeps (and saves), is a whole number from 1 to 10,000; infinity, NaN or
    true is refused by name, never a traceback."""
    def rank(value):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis={"climax_rank": value}))

    assert load_settings(rank(0)).wyckoff_params().climax_rank == 0.0
    assert load_settings(rank(0.9)).wyckoff_params().climax_rank == 0.9
    for bad in (1, 1.5, True, float("inf"), -0.1):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.climax_rank: the share of the rank_bars bars"):
            load_settings(rank(bad))

    def bars(value):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis={"rank_bars": value}))

    assert load_settings(bars(50)).wyckoff_params().rank_bars == 50
    for bad in (0, 2.5, True, float("inf"), float("nan"), 1e400, [100]):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.rank_bars: a whole number from 1 to 10,000"):
            load_settings(bars(bad))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.rank_bars: a whole number from 1 to 10,000"):
        load_settings(bars(10**18))


def test_the_fall_rank_is_a_share_from_0_off_to_below_1_over_a_bounded_window(tmp_path) -> None:
    """``fall_rank`` (round 10) is the share of the bars before whose fall the fall into a climax must beat:
    0 turns it off, 1 or more, a negative, NaN or true are refused by name; ``fall_bars`` is a whole number up to
    10,000 (the window the live tracker keeps twice, for falls and rises, and saves)."""
    def fall(key, value):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis={key: value}))

    assert load_settings(fall("fall_rank", 0)).wyckoff_params().fall_rank == 0.0
    assert load_settings(fall("fall_rank", 0.8)).wyckoff_params().fall_rank == 0.8
    for bad in (1, 2.0, True, float("nan"), -0.5):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.fall_rank: the share of the fall_bars bars"):
            load_settings(fall("fall_rank", bad))
    assert load_settings(fall("fall_bars", 120)).wyckoff_params().fall_bars == 120
    for bad in (0, 1.5, True, float("inf")):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.fall_bars: a whole number from 1 to 10,000"):
            load_settings(fall("fall_bars", bad))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.fall_bars: a whole number from 1 to 10,000"):
        load_settings(fall("fall_bars", 10_001))


def test_the_spring_gate_is_a_share_the_gate_can_reach(tmp_path) -> None:
    """``spring_gate_min`` (round 11) is the gate's least score for a range a spring or upthrust proves: a
    share from 0 (gate_min alone) to below 1, and, with the gate on, one the shipped gate can give (else every
    such range would be dropped); with the gate off it is not used, so not checked against the trees."""
    def spring_gate(**values):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis=values))

    assert load_settings(spring_gate(spring_gate_min=0.4)).wyckoff_params().spring_gate_min == 0.4
    for bad in (1, -0.1, True, "high"):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.spring_gate_min: the range gate's least score for"):
            load_settings(spring_gate(spring_gate_min=bad))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.spring_gate_min: spring_gate_min 0.999 is above the "
                                            r"highest score the range gate gives .*: every range a spring or upthrust "
                                            r"proves would be dropped"):
        load_settings(spring_gate(spring_gate_min=0.999))
    assert load_settings(spring_gate(spring_gate_min=0.999, gate_min=0)).wyckoff_params().spring_gate_min == 0.999


def test_the_phase_c_gate_is_a_share_its_trees_can_reach(tmp_path, monkeypatch) -> None:
    """``c_gate_min`` (round 20) is the phase-C gate's least score for a spring or upthrust: a share from 0
    (off) to below 1, and one its shipped trees can give (else every spring and upthrust would be a test),
    whether or not the range gate is on; its trees are read only when it is on."""
    def c_gate(**values):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis=values))

    assert load_settings(c_gate(c_gate_min=0.3)).wyckoff_params().c_gate_min == 0.3
    for bad in (1, -0.1, True, "high"):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.c_gate_min: the phase-C gate's least score for"):
            load_settings(c_gate(c_gate_min=bad))
    for values in ({"c_gate_min": 0.9999}, {"c_gate_min": 0.9999, "gate_min": 0}):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.c_gate_min: c_gate_min 0.9999 is above the "
                                                r"highest score the phase-C gate gives .*: every spring and upthrust "
                                                r"would be a test"):
            load_settings(c_gate(**values))
    from trading.wyckoff import gate

    monkeypatch.setattr(gate, "C_MODEL", tmp_path / "gone.json")
    assert load_settings(c_gate(c_gate_min=0)).wyckoff_params().c_gate_min == 0.0  # off: the trees are not read
    with pytest.raises(SettingsError, match=r"agents\.analysis\.c_gate_min: the Wyckoff phase-C gate's trees cannot "
                                            r"be read .*set wyckoff c_gate_min to 0"):
        load_settings(c_gate(c_gate_min=0.3))


def test_the_shallow_phase_c_threshold_is_refused_where_it_would_do_nothing_or_pass_nothing(tmp_path) -> None:
    """``c_gate_shallow_min`` (round 23) is a share, refused by name unless the phase-C gate is on and it is
    above ``c_gate_min`` (it would change nothing), and when its trees never score that high."""
    def c_gate(**values):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis=values))

    p = load_settings(c_gate(c_gate_min=0.2, c_gate_shallow_min=0.4)).wyckoff_params()
    assert (p.c_gate_min, p.c_gate_shallow_min) == (0.2, 0.4)
    for values in ({"c_gate_min": 0, "c_gate_shallow_min": 0.4}, {"c_gate_min": 0.4, "c_gate_shallow_min": 0.4},
                   {"c_gate_min": 0.4, "c_gate_shallow_min": 0.3}):
        with pytest.raises(SettingsError, match=r"agents\.analysis\.c_gate_shallow_min: has no effect unless the "
                                                r"phase-C gate is on and c_gate_shallow_min is above c_gate_min"):
            load_settings(c_gate(**values))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.c_gate_shallow_min: c_gate_shallow_min 0.9999 is "
                                            r"above the highest score the phase-C gate gives .*: every shallow spring"):
        load_settings(c_gate(c_gate_min=0.2, c_gate_shallow_min=0.9999))
    with pytest.raises(SettingsError, match=r"agents\.analysis\.c_gate_shallow_min: the phase-C gate's least score "
                                            r"for a shallow spring or upthrust, from 0 \(off\) to below 1"):
        load_settings(c_gate(c_gate_min=0.2, c_gate_shallow_min=1.5))


def test_a_wyckoff_threshold_of_the_wrong_kind_is_refused_in_one_line_naming_it(tmp_path) -> None:
    """Text, nothing, a list or a mapping where a number is wanted is refused in one line that names the
    threshold and what it must be (not pydantic's line per type it tried); a number written as text, as an
    environment variable gives it, is read as that number."""
    def analysis(key, value):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis={key: value}))

    refused = [("fall_rank", "abc", r"fall_rank: the share of the fall_bars bars .* \(got 'abc'\)$"),
               ("fall_rank", None, r"fall_rank: the share of the fall_bars bars .* \(got None\)$"),
               ("climax_rank", [0.5], r"climax_rank: the share of the rank_bars bars .* \(got \[0\.5\]\)$"),
               ("fall_bars", "many", r"fall_bars: a whole number from 1 to 10,000 \(got 'many'\)$"),
               ("fall_bars", 10**400, r"fall_bars: a whole number from 1 to 10,000 \(got 1000000000.*\.\.\.0+\)$"),
               ("climax_volume", {"x": 1}, r"climax_volume: a number above 0, at most 1,000,000 \(got \{'x': 1\}\)$"),
               ("climax_volume", "nan", r"climax_volume: a number above 0, at most 1,000,000 \(got 'nan'\)$"),
               ("stop_beyond_range", 2.5, r"stop_beyond_range: true or false \(got 2\.5\)$"),
               ("stop_beyond_range", "maybe", r"stop_beyond_range: true or false \(got 'maybe'\)$"),
               ("swing_orders", [3, "x"], r"swing_orders: a list of whole numbers from 1 to 100,000 \(bars\) \(got \[3, 'x'\]\)$")]
    for key, value, says in refused:
        with pytest.raises(SettingsError) as caught:
            load_settings(analysis(key, value))
        lines = str(caught.value).splitlines()
        assert lines[0].endswith("1 invalid setting(s)") and len(lines) == 2, lines
        assert re.search(r"^  agents\.analysis\." + says, lines[1]), lines[1]
    with pytest.raises(SettingsError, match=r"session\.ticks: .* \(got 'abc'\)"):  # other fields keep their "got"
        load_settings(write(tmp_path, lambda d: d["session"].update(ticks="abc")))
    p = load_settings(write(tmp_path, lambda d: d["agents"].update(analysis={
        "fall_rank": "0.8", "fall_bars": "120", "climax_volume": "2.5", "stop_beyond_range": "true",
        "swing_orders": ["3", 10]}))).wyckoff_params()
    assert (p.fall_rank, p.fall_bars, p.climax_volume, p.stop_beyond_range, p.swing_orders) == (0.8, 120, 2.5, True,
                                                                                                  (3, 10))


def test_every_wyckoff_threshold_has_a_ceiling_and_every_mistake_is_named_at_once(tmp_path) -> None:
    """Every whole-number threshold is at most 100,000 bars (the higher timeframe 1,000 base bars; the rank
    windows 10,000), each swing order too, and every multiple or ratio at most 1,000,000: values that once
    passed the settings and then crashed the detector (an OverflowError) or stopped it in silence are refused
    by name. All of the section's mistakes are named at once, with the other sections' ones."""
    def analysis(**values):  # type: ignore[no-untyped-def]
        return write(tmp_path, lambda d: d["agents"].update(analysis=values))

    fields = {f.name: str(f.type) for f in dataclasses.fields(WyckoffParams)}
    tops = {"rank_bars": 10_000, "fall_bars": 10_000, "rank_min_bars": 9_999, "htf_factor": 1_000, "burst_bars": 100}
    for key, kind in fields.items():
        if kind == "int":
            top = tops.get(key, 100_000)
            window = {"fall_bars": 10_000} if key == "rank_min_bars" else {}  # (it must be below a rank window)
            assert getattr(load_settings(analysis(**{key: top}, **window)).wyckoff_params(), key) == top
            with pytest.raises(SettingsError, match=rf"agents\.analysis\.{key}: a whole number from [01] to {top:,}"):
                load_settings(analysis(**{key: top + 1}))
        elif kind == "float" and key not in ("gate_min", "spring_gate_min", "c_gate_min", "c_gate_shallow_min", "climax_rank", "fall_rank"):
            floor = {"ar_sharp_floor": 1} if key == "ar_sharp" else {}  # (ar_sharp acts only under ar_min_atr)
            floor |= {"c_replaced_by_opposite": True} if key == "c_replace_depth" else {}  # (it guards that)
            assert getattr(load_settings(analysis(**{key: 1e6, "gate_min": 0}, **floor)).wyckoff_params(), key) == 1e6
            with pytest.raises(SettingsError, match=rf"agents\.analysis\.{key}: a number .*(at most|to) 1,000,000"):
                load_settings(analysis(**{key: 1.7e308}))
    assert load_settings(analysis(swing_orders=[3, 100_000])).wyckoff_params().swing_orders == (3, 100_000)
    with pytest.raises(SettingsError, match=r"swing_orders: a list of whole numbers from 1 to 100,000 \(bars\) "
                                            r"\(got \[3, 1e\+22\]\)"):
        load_settings(analysis(swing_orders=[3, 1e22]))
    # at most 8 scales, each larger than the one before: a long list took minutes a batch and lost every signal
    for bad in ([3] * 9, list(range(1, 10)), [30, 3], [3, 3]):
        with pytest.raises(SettingsError, match=r"swing_orders: at most 8 scales, each larger than the one before"):
            load_settings(analysis(swing_orders=bad))
    assert load_settings(analysis(swing_orders=list(range(1, 9)))).wyckoff_params().swing_orders == tuple(range(1, 9))
    # 0 is a setting where the threshold says what 0 means, and -0 is 0
    p = load_settings(analysis(burst_bars=0, ar_sharp=-0.0, spring_confirm=0, climax_rank=-0.0)).wyckoff_params()
    assert (p.burst_bars, p.ar_sharp, p.spring_confirm, p.climax_rank) == (0, 0.0, 0.0, 0.0)
    assert math.copysign(1, p.climax_rank) == 1 and math.copysign(1, p.ar_sharp) == 1
    with pytest.raises(SettingsError, match=r"atr_period: a whole number from 1 to"):
        load_settings(analysis(atr_period=0))
    # text as an environment variable gives it: padded numbers, True, a list
    p = load_settings(analysis(climax_rank=" 0.3 ", stop_beyond_range=" True ", swing_orders="[3, 5]")).wyckoff_params()
    assert (p.climax_rank, p.stop_beyond_range, p.swing_orders) == (0.3, True, (3, 5))
    # spring_gate_test does nothing unless spring_gate_min is above gate_min, with the gate on: refused
    for values in ({}, {"spring_gate_min": 0.2}, {"gate_min": 0, "spring_gate_min": 0.3}):
        with pytest.raises(SettingsError, match=r"spring_gate_test: has no effect unless the gate is on"):
            load_settings(analysis(spring_gate_test=True, **values))
    assert load_settings(analysis(spring_gate_test=True, spring_gate_min=0.3)).wyckoff_params().spring_gate_test
    # so is ar_sharp where its floor is not below ar_min_atr (a sharp AR is one short of ar_min_atr)
    for values in ({}, {"ar_sharp_floor": 4.0}, {"ar_min_atr": 3, "ar_sharp_floor": 3.5}):
        with pytest.raises(SettingsError, match=r"ar_sharp: has no effect unless ar_sharp_floor is below ar_min_atr"):
            load_settings(analysis(ar_sharp=1.5, **values))
    assert load_settings(analysis(ar_sharp=1.0, ar_sharp_floor=2.5)).wyckoff_params().ar_sharp == 1.0
    # and rank_min_bars where neither rank window is longer (each is ranked whole once full)
    for values in ({"rank_min_bars": 300}, {"rank_min_bars": 50, "rank_bars": 50, "fall_bars": 40}):
        with pytest.raises(SettingsError, match=r"rank_min_bars: has no effect unless it is below rank_bars or fall_b"):
            load_settings(analysis(**values))
    assert load_settings(analysis(rank_min_bars=299)).wyckoff_params().rank_min_bars == 299
    with pytest.raises(SettingsError, match=r"rank_min_bars: has no effect unless climax_rank or fall_rank is on"):
        load_settings(analysis(rank_min_bars=5, climax_rank=0, fall_rank=0))
    assert load_settings(analysis(rank_min_bars=5, climax_rank=0)).wyckoff_params().rank_min_bars == 5
    # and c_replace_depth without a replacement to guard
    with pytest.raises(SettingsError, match=r"c_replace_depth: has no effect unless c_replaced_by_opposite or c_repl"):
        load_settings(analysis(c_replace_depth=1.0, c_replaced_by_opposite=False))
    assert load_settings(analysis(c_replace_depth=1.0, c_replaced_by_opposite=True)).wyckoff_params() \
        .c_replace_depth == 1.0
    with pytest.raises(SettingsError, match=r"c_replace_toward_context: has no effect unless c_replaced_by_opposite"):
        load_settings(analysis(c_replace_toward_context=True, c_replaced_by_opposite=False))
    # the default toward_context is no mistake while the replacement is off (the default)
    assert not load_settings(analysis(c_replaced_by_same=True)).wyckoff_params().c_replaced_by_opposite
    assert load_settings(analysis(c_replace_toward_context=True, c_replaced_by_opposite=True)).wyckoff_params() \
        .c_replace_toward_context
    # the checks across keys are named with every other mistake at once, and only where each key they read is
    # valid (a wrong ar_min_atr is named for itself, not judged against ar_sharp_floor as its default)
    with pytest.raises(SettingsError) as caught:
        load_settings(analysis(atr_period=0, ar_sharp=1.5, ar_min_atr="four", rank_min_bars=400, c_replace_depth=2,
                               c_replaced_by_opposite=False, c_replace_toward_context=False, spring_gate_test=True))
    lines = str(caught.value).splitlines()
    assert lines[0].endswith(": 5 invalid setting(s)"), lines
    named = sorted(line.split(":")[0].strip() for line in lines[1:])
    assert named == sorted(f"agents.analysis.{k}" for k in ("atr_period", "ar_min_atr", "rank_min_bars",
                                                            "c_replace_depth", "spring_gate_test")), lines
    assert load_settings(analysis(rank_min_bars=0)).wyckoff_params().rank_min_bars == 0
    # every mistake at once, the other sections' too
    path = write(tmp_path, lambda d: (d["agents"].update(analysis={"htf_factor": 1e12, "proven_ratio": 1.7e308,
                                                                   "climax_vol": 3, "atr_period": 14}),
                                      d["accounts"][0].update(balance="-5")))
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    lines = str(caught.value).splitlines()
    assert lines[0].endswith(": 4 invalid setting(s)"), lines
    assert sorted(line.split(":")[0].strip() for line in lines[1:]) == [
        "accounts.0.balance", "agents.analysis.climax_vol", "agents.analysis.htf_factor",
        "agents.analysis.proven_ratio"], lines


def test_at_every_ceiling_and_every_zero_the_settings_allow_the_detector_runs_and_both_modes_agree(settings) -> None:
    """Each threshold at the largest value the settings allow (and at 0 where 0 is a setting), one at a
    time, on a scenario of 1,143 bars: the detector runs (no overflow) and the incremental mode emits what
    the batch mode does."""
    from cluster.config.settings import RATIO_MAX, SHARES, WHOLE_MAX, WHOLE_MAX_DEFAULT, ZERO_MEANS
    from tests.trading.test_wyckoff import FAMILIES, batch, incremental, structural

    inst = settings.registry()["EURUSD"]
    sc = FAMILIES["D"](0)
    cases: list[dict] = []
    for f in dataclasses.fields(WyckoffParams):
        kind = str(f.type)
        if kind == "int":
            cases.append({f.name: WHOLE_MAX.get(f.name, WHOLE_MAX_DEFAULT)})
        elif kind.startswith("tuple"):
            cases.append({f.name: (3, WHOLE_MAX_DEFAULT)})
        elif kind == "float" and f.name not in SHARES:
            cases.append({f.name: RATIO_MAX})
        if f.name in ZERO_MEANS:
            cases.append({f.name: 0})
    cases.append({"rank_min_bars": 1, "rank_bars": 10_000, "fall_bars": 10_000})  # every bar ranked on a part
    assert len(cases) > 50
    for case in cases:
        p = dataclasses.replace(WyckoffParams(), **case)
        d = batch(inst, sc, p)
        events, signals, phases = incremental(inst, sc, p)
        assert structural(events) == d.events and signals == d.signals and phases == d.phase_names(), case


def test_an_environment_variable_that_is_not_json_is_named_without_a_traceback(monkeypatch) -> None:
    """A section set whole from the environment must be JSON: anything else is one clear line (it was a
    traceback); one key of it can be set alone, a list as text."""
    monkeypatch.setenv("OCTET_AGENTS__ANALYSIS", "not json")
    result = CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert 'error parsing value for field "agents"' in result.output
    assert "OCTET_AGENTS__ANALYSIS__ATR_PERIOD=14" in " ".join(result.output.split())
    monkeypatch.setenv("OCTET_AGENTS__ANALYSIS", "[" * 3000 + "]" * 3000)  # nested past Python's recursion limit
    result = CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    monkeypatch.setenv("OCTET_AGENTS__ANALYSIS", '{"atr_period": "[/]"}')  # not read as the console's markup
    result = CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")])
    assert result.exit_code == 2 and "atr_period: a whole number from 1 to 100,000 (got '[/]')" in result.output
    monkeypatch.delenv("OCTET_AGENTS__ANALYSIS")
    monkeypatch.setenv("OCTET_AGENTS__ANALYSIS__SWING_ORDERS", "[3, 5]")
    assert load_settings(ROOT / "octet.yaml").wyckoff_params().swing_orders == (3, 5)


def test_the_environment_overrides_the_file(monkeypatch) -> None:
    monkeypatch.setenv("OCTET_SESSION__TICKS", "1234")
    assert load_settings(ROOT / "octet.yaml").session.ticks == 1234


def test_a_variable_naming_no_section_is_refused_not_ignored(monkeypatch) -> None:
    """OCTET_SESION__TICKS=5 (a typo of the section) was skipped by the settings' reader: the run went on with
    the file's 200,000 ticks and nothing said so. A variable with a section's key, or a name close to a
    section's, that names none is refused, with the variable it meant; other tools' OCTET_ variables are not."""
    monkeypatch.setenv("OCTET_SESION__TICKS", "5")
    monkeypatch.setenv("OCTET_EXEC_BINARY", "/nowhere")  # another tool's (the rust_exec launcher's)
    result = CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "OCTET_SESION__TICKS: names no settings section (did you mean OCTET_SESSION__TICKS?)" in result.output
    assert "OCTET_EXEC_BINARY" not in result.output
    monkeypatch.delenv("OCTET_SESION__TICKS")
    monkeypatch.setenv("OCTET_RISKK__X", "1")  # near no section: the sections are named
    with pytest.raises(SettingsError, match=r"OCTET_RISKK__X: names no settings section \(the sections are accounts"):
        load_settings(ROOT / "octet.yaml")
    monkeypatch.delenv("OCTET_RISKK__X")
    monkeypatch.setenv("OCTET_SESION", '{"ticks": 5}')  # a whole section's variable, misspelt
    with pytest.raises(SettingsError, match=r"OCTET_SESION: names no settings section \(did you mean OCTET_SESSION\?\)"):
        load_settings(ROOT / "octet.yaml")
    monkeypatch.delenv("OCTET_SESION")
    for typo, meant in (("OCTET_SESSION_TICKS", "OCTET_SESSION__TICKS"), ("OCTET_STORAGE_URL", "OCTET_STORAGE__URL"),
                        ("OCTET_RUNTIME_DATA_DIR", "OCTET_RUNTIME__DATA_DIR")):  # one _ where __ belongs
        monkeypatch.setenv(typo, "5")
        with pytest.raises(SettingsError, match=f"{typo}: names no settings section \\(did you mean {meant}\\?\\)"):
            load_settings(ROOT / "octet.yaml")
        monkeypatch.delenv(typo)
    for other in ("OCTET_EXEC_SECRETS", "OCTET_NOTEBOOK_SMALL", "OCTET_SERVE_ENV_PID", "OCTET_HAPROXY_BIN",
                  "OCTET_ACCOUNT_ID", "OCTET_RUNTIME_ENV"):
        monkeypatch.setenv(other, "1")  # other tools' variables (the first four used in this repository)
    assert load_settings(ROOT / "octet.yaml").session.ticks == 200_000


def test_values_no_account_or_instrument_can_have_are_refused_in_one_line_each(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Values the settings took that overflow the ledger's sums, the store's columns or a pip: each is now
    refused, naming its key; the largest sane values still pass."""
    cases = [
        (lambda d: d["accounts"][0].update(balance=1e40), r"accounts\.0\.balance: Input should be less than or equal to 1000000000000"),
        (lambda d: d["session"].update(ticks=10**30), r"session\.ticks: Input should be less than or equal to 1000000000000"),
        (lambda d: d["instruments"][0].update(price_precision=0),
         r"instruments\.0: pip_size=0\.0001: must be a whole number of points \(1 at price_precision 0\)"),
        (lambda d: d["instruments"][0].update(pip_size="0.000015"), r"instruments\.0: pip_size=0\.000015: must be a whole"),
        (lambda d: d["instruments"][0].update(pip_size="1e30"), r"instruments\.0\.pip_size: Input should be less than or"),
        (lambda d: d["instruments"][0].update(pip_size="1e-5000000"),  # named as written, not in 5 MB of zeros
         r"instruments\.0: pip_size=1E-5000000: must be a whole number of points \(0\.00001 at"),
        (lambda d: d.setdefault("desk", {}).update(stop_timeout_seconds=float("inf")),
         r"desk\.stop_timeout_seconds: Input should be a finite number"),
        (lambda d: d["accounts"][0].update(id="a" * 65), r"accounts\.0\.id: String should have at most 64 characters"),
        (lambda d: d["instruments"][0].update(symbol="A" * 33), r"instruments\.0\.symbol: String should have at most 32"),
    ]
    for change, message in cases:
        with pytest.raises(SettingsError, match=message):
            load_settings(write(tmp_path, change))

    def largest(d):  # type: ignore[no-untyped-def]
        d["accounts"][0].update(balance=10**12, id="a" * 64)
        d["session"].update(ticks=10**12)
    settings = load_settings(write(tmp_path, largest))
    assert settings.accounts[0].balance == 10**12 and settings.session.ticks == 10**12


def test_check_config_exits_2_with_the_error(tmp_path) -> None:
    path = write(tmp_path, lambda d: d["accounts"][0].update(profile="ghost"))
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    assert result.exit_code == 2 and "unknown profile 'ghost'" in result.output


def test_a_key_written_twice_in_the_settings_is_refused_where_a_yaml_reader_keeps_the_last(tmp_path) -> None:
    """`scaling: {3: 3, 3: 5}` read silently would allow 5 lots above 3%; a merge key (`<<`) may still be overridden."""
    text = (ROOT / "octet.yaml").read_text()
    twice = tmp_path / "twice.yaml"
    twice.write_text(text.replace("    size: {max_lots_per_order: 10, max_positions_total: 6}",
                                  "    size: {max_lots_total: 2, scaling: {3: 3, 3.0: 5}}"))
    assert twice.read_text() != text
    with pytest.raises(SettingsError, match=r"(?s)not valid YAML: .*the key 3\.0 is written twice.*line \d+"):
        load_settings(twice)
    from trading.presets import UniqueKeyLoader  # the presets are read with it too
    assert yaml.load("a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\n", Loader=UniqueKeyLoader)["b"] == {"k": 3, "j": 2}
    assert load_settings(ROOT / "octet.yaml").accounts, "the shipped settings hold no key twice"


def test_an_account_currency_no_instrument_converts_to_is_refused_at_load(tmp_path) -> None:
    with pytest.raises(SettingsError, match=r"accounts\.0\.currency: CHF account cannot book EURUSD: no instrument"):
        load_settings(write(tmp_path, lambda d: d["accounts"][0].update(currency="CHF")))
    eur = load_settings(write(tmp_path, lambda d: d["accounts"][0].update(currency="EUR")))  # JPY -> USD -> EUR
    assert eur.accounts[0].currency == "EUR"


def test_check_config_names_a_firm_that_does_not_say_whether_its_floor_locks(tmp_path) -> None:
    path = write(tmp_path, lambda d: d["firms"]["trailing_funded"].pop("lock_at_initial"))
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "firms.trailing_funded.lock_at_initial: is required" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_check_config_names_every_bad_key_in_one_run_the_names_too(tmp_path) -> None:
    """A firm or profile name wrong beside a value wrong: one run names both (the names are checked on the
    file as written when other settings fail and the model's own check never runs)."""
    def spoil(d: dict) -> None:  # type: ignore[type-arg]
        d["session"]["batch_size"] = -1
        d["accounts"][0]["firm"] = "ftmo.chalenge"
        d["accounts"][0]["profile"] = "ghost"
        d["firms"]["trailing_funded"].pop("lock_at_initial")
    result = CliRunner().invoke(app, ["check-config", "--config", str(write(tmp_path, spoil))])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "4 invalid setting(s)" in out, result.output
    for key in ("session.batch_size:", "accounts.0.firm: unknown firm 'ftmo.chalenge'",
                "accounts.0.profile: unknown profile 'ghost'", "firms.trailing_funded.lock_at_initial: is required"):
        assert key in out, (key, result.output)
    # with only the names wrong, the model's own check names them all too (not the first alone)
    def names(d: dict) -> None:  # type: ignore[type-arg]
        d["accounts"][0]["firm"] = "ftmo.chalenge"
        d["accounts"][0]["profile"] = "ghost"
    out = " ".join(CliRunner().invoke(app, ["check-config", "--config", str(write(tmp_path, names))]).output.split())
    assert "2 invalid setting(s)" in out and "unknown firm" in out and "unknown profile" in out, out


def test_a_commands_option_beats_the_environment_which_beats_the_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, lambda d: d["session"].update(ticks=7_000))
    assert load_settings(path).session.ticks == 7_000
    monkeypatch.setenv("OCTET_SESSION__TICKS", "100")
    assert load_settings(path).session.ticks == 100
    assert load_settings(path, session__ticks=50).session.ticks == 50
    with pytest.raises(SettingsError, match=r"session\.ticks: .* \(got -2\) \(given on the command line\)"):
        load_settings(path, session__ticks=-2)
    monkeypatch.setenv("OCTET_SESSION__TICKS", "-3")
    with pytest.raises(SettingsError, match=r"session\.ticks: .* \(got '-3'\) \(from OCTET_SESSION__TICKS\)"):
        load_settings(path)
    assert load_settings(path, session__ticks=50).session.ticks == 50  # the option wins over the bad variable


def test_a_bad_value_in_the_file_is_not_blamed_on_a_variable_of_another_key(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, lambda d: d["session"].update(batch_size=-1))
    monkeypatch.setenv("OCTET_SESSION__TICKS", "100")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert "session.batch_size" in str(err.value) and "OCTET_" not in str(err.value) and "command line" not in str(err.value)


def test_names_are_not_checked_on_the_file_alone_when_the_environment_sets_firms(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def spoil(d: dict) -> None:  # type: ignore[type-arg]
        d["session"]["batch_size"] = -1
        d["accounts"][1]["firm"] = "envfirm"
    path = write(tmp_path, spoil)
    monkeypatch.setenv("OCTET_FIRMS__ENVFIRM", '{"daily_loss_pct": 3, "max_loss_pct": 6, "lock_at_initial": true}')
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert "1 invalid setting(s)" in str(err.value) and "envfirm" not in str(err.value)


def test_a_firm_that_is_not_a_mapping_is_named_once_and_blames_no_account(tmp_path) -> None:
    def spoil(d: dict) -> None:  # type: ignore[type-arg]
        d["session"]["batch_size"] = -1
        d["firms"]["trailing_funded"] = [1, 2]
    with pytest.raises(SettingsError) as err:
        load_settings(write(tmp_path, spoil))
    text = str(err.value)
    assert "2 invalid setting(s)" in text and text.count("trailing_funded") == 1, text


def test_a_firm_value_out_of_any_range_is_a_line_not_a_traceback(tmp_path) -> None:
    path = write(tmp_path, lambda d: d["firms"]["trailing_funded"].update(reset_time=10 ** 40))
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    assert result.exit_code == 2 and "firms.trailing_funded" in result.output, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), repr(result.exception)


def generate(settings, seed: int = 7, n: int = 30_000):  # type: ignore[no-untyped-def]
    return generate_ticks(settings.registry(), settings.generator_profiles(), n, seed, datetime(2026, 3, 2, tzinfo=UTC))


def test_the_same_seed_gives_the_same_ticks_and_another_seed_does_not(settings) -> None:
    a, labels_a = generate(settings)
    b, labels_b = generate(settings)
    c, _ = generate(settings, seed=8)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("ts", "inst", "bid", "ask", "volume"))
    assert labels_a == labels_b
    assert not np.array_equal(a.bid, c.bid)


def test_generated_ticks_are_ordered_uncrossed_and_closed_at_weekends(settings) -> None:
    ticks, labels = generate(settings, n=150_000)
    assert np.all(np.diff(ticks.ts) >= 0) and np.all(ticks.ask > ticks.bid)
    days = ticks.ts // (86_400 * 10**9)
    weekday = (days + 3) % 7
    assert not np.any(weekday == 5)  # no Saturday ticks
    assert {"selling_climax", "spring", "buying_climax", "upthrust"} <= {e.event for e in labels}
    spread = (ticks.ask - ticks.bid)[ticks.inst == 0]
    hours = (ticks.ts[ticks.inst == 0] // (3_600 * 10**9)) % 24
    assert spread[(hours >= 7) & (hours < 16)].mean() < spread[(hours >= 21)].mean()  # wider late in the day


def test_ticks_round_trip_through_csv_and_bad_rows_are_reported(settings, tmp_path) -> None:
    out = tmp_path / "ticks.csv"
    result = CliRunner().invoke(app, ["generate", str(out), "--ticks", "5000"])
    assert result.exit_code == 0, result.output
    back = load_market_files([out], FileSpec(), settings.registry(), strict=True).ticks
    original, _ = generate(settings, n=5000)
    assert np.array_equal(back.bid, original.bid) and np.array_equal(back.ts, original.ts)
    lines = out.read_text().splitlines()
    parts = lines[3].split(",")
    parts[2] = str(float(parts[3]) + 0.001)  # bid above ask: a crossed quote
    lines[3] = ",".join(parts)
    out.write_text("\n".join(lines))
    with pytest.raises(DataFileError, match="line 4: crossed quote"):
        load_market_files([out], FileSpec(), settings.registry(), strict=True)
    lenient = load_market_files([out], FileSpec(), settings.registry(), max_skipped=0.001)
    assert len(lenient.ticks) == 4999 and [(s.reason, s.lines) for s in lenient.reports[0].skipped] == [
        ("crossed quote (bid above ask)", (4,))]


def test_rust_exec_limits_come_from_the_accounts_and_are_checked(tmp_path) -> None:
    from cluster.adapters.rust_exec.process import exec_config

    def limit(d) -> None:  # type: ignore[no-untyped-def]
        d["accounts"][1]["limits"] = {"max_order_lots": "2.5", "instruments": ["EURUSD", "GBPUSD"]}
        d["execution"]["latency_ms"] = 250

    cfg = exec_config(load_settings(write(tmp_path, limit)))
    funded = next(a for a in cfg["accounts"] if a["id"] == "funded-50k")
    assert funded == {"id": "funded-50k", "max_order_lots_e6": 2_500_000, "max_open_notional_usd_cents": 1_000_000_000,
                      "instruments": ["EURUSD", "GBPUSD"]}
    assert cfg["venue"]["latency_ns"] == 250_000_000
    assert {i["symbol"]: i["price_precision"] for i in cfg["instruments"]} == {"EURUSD": 5, "GBPUSD": 5, "USDJPY": 3}
    with pytest.raises(SettingsError, match=r"accounts\.0\.limits\.instruments: unknown instrument 'XAUUSD'"):
        load_settings(write(tmp_path, lambda d: d["accounts"][0].update(limits={"instruments": ["XAUUSD"]})))


def test_rust_exec_limits_that_do_not_convert_exactly_to_integers_are_refused(tmp_path) -> None:
    from cluster.adapters.rust_exec.process import exec_config

    def limits(**values: str):  # type: ignore[no-untyped-def]
        return lambda d: d["accounts"][0].update(limits=values)

    cfg = exec_config(load_settings(write(tmp_path, limits(max_order_lots="0.000001", max_open_notional_usd="0.01"))))
    assert (cfg["accounts"][0]["max_order_lots_e6"], cfg["accounts"][0]["max_open_notional_usd_cents"]) == (1, 1)
    with pytest.raises(SettingsError, match=r"accounts\.0\.limits: max_order_lots = 0\.0000001 is finer than "
                                            r"rust_exec's limits take \(millionths of a lot\); round it"):
        load_settings(write(tmp_path, limits(max_order_lots="0.0000001")))
    with pytest.raises(SettingsError, match=r"accounts\.0\.limits: max_open_notional_usd = 1000\.005 is finer .*\(US cents\)"):
        load_settings(write(tmp_path, limits(max_open_notional_usd="1000.005")))


def test_a_session_cuts_its_batches_at_every_holding_deadline(tmp_path) -> None:
    import numpy as np

    from cluster.desk.session import Session
    from trading.market import NS_PER_S, TickBatch, datetime_to_ts

    def funded(d) -> None:  # type: ignore[no-untyped-def]
        d["accounts"][0]["firm"] = "ftmo.funded"            # no weekend holding: flat 15 min before
        d["accounts"][1]["firm"] = "topstepx.funded"  # no overnight: flat 120 min before 17:00 Chicago

    session = Session(load_settings(write(tmp_path, funded)))
    start = datetime_to_ts(datetime(2026, 3, 5, 12, 0, tzinfo=UTC))  # Thursday
    ts = np.arange(start, start + 3 * 86_400 * NS_PER_S, 600 * NS_PER_S, dtype=np.int64)
    n = len(ts)
    clean = TickBatch(ts, np.zeros(n, np.int16), np.full(n, 108000, np.int64), np.full(n, 108010, np.int64),
                      np.ones(n))
    cuts = [t for t, _, _, _, _ in session._cuts(clean, [])]
    weekend = datetime_to_ts(datetime(2026, 3, 6, 21, 45, tzinfo=UTC))  # 15 min before 17:00 New York (EST)
    overnight = [datetime_to_ts(datetime(2026, 3, d, 21, 0, tzinfo=UTC)) for d in (5, 6)]  # 15:00 CST
    assert weekend in cuts and set(overnight) <= set(cuts)
    # and where FTMO's funded account starts to close before a news window (5 min before it opens, 2 min
    # before the release): Friday's payrolls at 13:30 UTC in the shipped calendar, high impact; Thursday's
    # jobless claims at 13:30 are medium and open no window
    assert datetime_to_ts(datetime(2026, 3, 6, 13, 23, tzinfo=UTC)) in cuts
    assert datetime_to_ts(datetime(2026, 3, 5, 13, 23, tzinfo=UTC)) not in cuts
    assert cuts == sorted(set(cuts))


def test_a_session_cuts_its_batch_where_an_ftmo_account_closes_before_a_market_closure(tmp_path) -> None:
    """FTMO's FTMO Account holds nothing over a break longer than 2 hours: the desk cuts at 21:45 UTC on
    24 December 2026, 15 minutes before spot FX closes for Christmas Day (the shipped closures), a day
    before the weekend's deadline; with no closures file it does not."""
    from cluster.desk.session import Session
    from trading.market import NS_PER_S, TickBatch, datetime_to_ts

    def funded(d, closures: object = "default") -> None:  # type: ignore[no-untyped-def]
        d["accounts"][0]["firm"] = "ftmo.funded"
        if closures is None:
            d["agents"]["compliance"]["market_closures"] = None

    start = datetime_to_ts(datetime(2026, 12, 24, 12, 0, tzinfo=UTC))
    ts = np.arange(start, start + 86_400 * NS_PER_S, 600 * NS_PER_S, dtype=np.int64)
    clean = TickBatch(ts, np.zeros(len(ts), np.int16), np.full(len(ts), 108000, np.int64),
                      np.full(len(ts), 108010, np.int64), np.ones(len(ts)))
    deadline = datetime_to_ts(datetime(2026, 12, 24, 21, 45, tzinfo=UTC))
    session = Session(load_settings(write(tmp_path, funded)))
    assert deadline in [t for t, _, _, _, _ in session._cuts(clean, [])]
    blind = Session(load_settings(write(tmp_path, lambda d: funded(d, None))))
    assert deadline not in [t for t, _, _, _, _ in blind._cuts(clean, [])]


def test_check_config_says_which_breaks_an_ftmo_account_closes_before_and_warns_when_none_is_ahead(tmp_path) -> None:
    def funded(d, closures: str | None = None) -> None:  # type: ignore[no-untyped-def]
        d["accounts"][0]["firm"] = "ftmo.funded"
        if closures is not None:
            d["agents"]["compliance"]["market_closures"] = closures

    result = CliRunner().invoke(app, ["check-config", "--config", str(write(tmp_path, funded))])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "market closures: 10 breaks in" in text and "the last ending 2031-01-01 22:00 UTC" in text
    assert "closing before each break longer than their limit: ftmo-100k (120 min)" in text and "warning: no break" not in text
    past = tmp_path / "past.csv"
    past.write_text("start_utc,end_utc,symbols,title\n2025-12-24T22:00:00Z,2025-12-25T22:00:00Z,*,Christmas\n")
    result = CliRunner().invoke(app, ["check-config", "--config", str(write(tmp_path, lambda d: funded(d, str(past))))])
    assert result.exit_code == 0 and "warning: no break is listed from now on" in " ".join(result.output.split())
    plain = CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")])
    assert "market closures" not in plain.output, "no account's firm has the rule"


def test_a_malformed_market_closures_file_is_refused_naming_its_line(tmp_path) -> None:
    bad = tmp_path / "closures.csv"
    bad.write_text("start_utc,end_utc,symbols,title\n2026-12-25T22:00:00Z,2026-12-24T22:00:00Z,*,backwards\n")
    with pytest.raises(SettingsError, match=r"market_closures: .*closures\.csv:2.*ends at or before its start"):
        load_settings(write(tmp_path, lambda d: d["agents"]["compliance"].update(market_closures=str(bad))))
    # a break of a symbol the desk does not know protects nothing: a typo, or another desk's
    bad.write_text("start_utc,end_utc,symbols,title\n# comment\n2026-12-22T18:00:00Z,2026-12-23T18:00:00Z,eurusd GBPUSD,x\n")
    with pytest.raises(SettingsError, match=r"market_closures: .*closures\.csv:3: unknown instrument 'eurusd' "
                                            r"\(known: EURUSD, GBPUSD, USDJPY\)"):
        load_settings(write(tmp_path, lambda d: d["agents"]["compliance"].update(market_closures=str(bad))))


def test_a_signal_cuts_its_batch_at_the_tick_that_closed_its_bar(tmp_path) -> None:
    """Not at the bar's end: the desk knows of the bar when its instrument's next tick arrives, and
    every tick before that one (other instruments' too, however the ticks were batched) is pushed
    before the saga; the tick itself comes after."""
    from decimal import Decimal

    from cluster.desk.session import Session
    from trading.market import NS_PER_S, TickBatch, datetime_to_ts
    from trading.orders import Side, Signal

    session = Session(load_settings(write(tmp_path, lambda d: None)))
    first, second = session.registry.symbols[:2]
    minute = datetime_to_ts(datetime(2026, 3, 4, 12, 1, tzinfo=UTC))  # a Wednesday: no firm's instant near
    ts = np.array([minute - NS_PER_S, minute, minute + 2 * NS_PER_S, minute + 2 * NS_PER_S, minute + 5 * NS_PER_S],
                  dtype=np.int64)
    inst = np.array([0, 1, 1, 0, 0], dtype=np.int16)  # `first` ticks at -1 s, then next at +2 s (position 3)
    clean = TickBatch(ts, inst, np.full(5, 108000, np.int64), np.full(5, 108010, np.int64), np.ones(5))
    signal = Signal(first, Side.BUY, minute, Decimal("1.08"), Decimal("1.07"), (Decimal("1.09"),), 0.8, "spring")
    assert [(t, k, [s.symbol for s in group]) for t, k, group, _, _ in session._cuts(clean, [signal])] == [
        (minute + 2 * NS_PER_S, 3, [first])]
    other = Signal(second, Side.BUY, minute, Decimal("1.08"), Decimal("1.07"), (Decimal("1.09"),), 0.8, "spring")
    assert [(t, k) for t, k, _, _, _ in session._cuts(clean, [other])] == [(minute, 1)]  # its own tick at the minute
    assert session._known_at(clean, [(first, minute), (second, minute + NS_PER_S)]) == [3, 2]


def test_check_config_prints_each_mistake_on_one_line_however_long(tmp_path: Path) -> None:
    """The console wraps at its width; a configuration error is printed without a hard wrap, one mistake a line
    (the line that refuses rank_min_bars is ~150 characters and was cut in two)."""
    path = write(tmp_path, lambda d: d["agents"].update(analysis={"rank_min_bars": 300, "atr_period": 0}))
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)], env={"COLUMNS": "80"})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    mine = [line for line in lines if "agents.analysis.rank_min_bars" in line]
    assert len(mine) == 1 and mine[0].rstrip().endswith("fall_bars 300)"), lines
    assert lines[-2:] == [line for line in lines if line.lstrip().startswith("agents.analysis.")], lines


def test_check_config_gives_each_inactivity_deadline_and_warns_when_one_has_passed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """FundedNext closes an account after 30 days without a trade: check-config says by when, from the
    account's last trade before the desk (naive: UTC), and warns when that is already past."""
    def idle(d: dict) -> None:  # type: ignore[type-arg]
        d["accounts"][0].update(firm="fundednext.funded", last_trade="2026-02-03T08:00:00")
        d["accounts"][1].update(firm="fundednext_futures.legacy")
    path = write(tmp_path, idle)
    settings = load_settings(path)
    assert settings.accounts[0].last_trade == datetime(2026, 2, 3, 8, tzinfo=UTC)
    out = " ".join(CliRunner().invoke(app, ["check-config", "--config", str(path)]).output.split())
    assert ("inactivity: ftmo-100k is closed by its firm after 30 days without a trade entered: last trade "
            "2026-02-03 08:00 UTC, so enter one by 2026-03-05 08:00 UTC") in out, out
    assert "warning: ftmo-100k's 30 days ran out on 2026-03-05 08:00 UTC" in out
    assert "funded-50k is closed by its firm after 7 days without a trade entered, counted from the desk's first tick" in out
    with pytest.raises(SettingsError, match=r"accounts\.0\.last_trade: .*out of range"):
        load_settings(write(tmp_path, lambda d: d["accounts"][0].update(last_trade="1900-01-01T00:00:00Z")))
    future = write(tmp_path, lambda d: d["accounts"][0].update(firm="fundednext.funded", last_trade="2199-01-01T00:00:00Z"))
    out = " ".join(CliRunner().invoke(app, ["check-config", "--config", str(future)]).output.split())
    assert "warning: ftmo-100k's last_trade is in the future" in out and "ran out" not in out, out
    # a firm without the rule says nothing of it
    assert "inactivity" not in CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")]).output


def test_check_config_gives_an_accounts_scaling_plan_in_its_own_money(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Topstep's Express Funded Account holds 2 lots, 3 once a day begins above 1,500 of profit, 5 above 2,000."""
    path = write(tmp_path, lambda d: d["accounts"][1].update(firm="topstepx.funded"))
    out = " ".join(CliRunner().invoke(app, ["check-config", "--config", str(path)]).output.split())
    assert ("scaling plan: funded-50k may hold 2 lots together, 3 once a day begins above 51,500.00 (+3%), 5 once a "
            "day begins above 52,000.00 (+4%); the cap moves only at the firm's daily reset") in out, out
    assert "scaling plan" not in CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")]).output


def test_check_config_warns_when_the_news_calendar_ends_within_a_week_for_accounts_with_a_news_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Past the calendar's last week every order of a firm with a news rule is vetoed (news_calendar), and
    an account that then enters no trade meets its firm's inactivity rule: check-config says so ahead, judged
    at --at (a replay's first tick) or now. The desk judges a week at a time, so a week without events is where
    the coverage ends, whatever comes after it."""
    def calendar(name: str, *days: str) -> Path:
        path = tmp_path / name
        path.write_text("time_utc,currency,impact,title\n" + "".join(f"{d}T13:30:00Z,USD,high,payrolls\n" for d in days))
        return path

    def check(news: Path | None, *at: str) -> str:
        path = write(tmp_path, lambda d: (d["accounts"][0].update(firm="the5ers.phase1"),
                                          d["agents"]["compliance"].update(news_calendar=news and str(news))))
        result = CliRunner().invoke(app, ["check-config", "--config", str(path), *at])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    vetoed = "every order of these accounts is vetoed (news_calendar)"
    two = calendar("two.csv", "2026-03-04", "2026-03-11")  # the weeks of Sunday 1 and Sunday 8 March
    out = check(two, "--at", "2026-03-02T08:00:00Z")  # Monday of the first: covered for the next 7 days
    assert f"news calendar: {two} covers 2026-03-01 to 2026-03-14; accounts with a news rule: ftmo-100k" in out, out
    assert "warning: the news calendar covers" not in out and "does not cover" not in out, out
    # USD only, while the instruments trade EUR, GBP, JPY and USD: those currencies' news would never block
    assert ("warning: the news calendar has no event in EUR, GBP, JPY (the instruments trade EUR, GBP, JPY, USD): "
            "news in them never blocks an order of these accounts") in out, out
    every = tmp_path / "every.csv"
    every.write_text("time_utc,currency,impact,title\n" + "".join(
        f"2026-03-{d}T13:30:00Z,{c},high,x\n" for d in ("04", "11") for c in ("EUR", "GBP", "JPY", "USD")))
    assert "warning" not in check(every, "--at", "2026-03-02T08:00:00Z")
    out = check(two, "--at", "2026-03-09T08:00")  # Monday of the second (no zone: UTC)
    assert f"warning: the news calendar covers nothing after 2026-03-14: after it {vetoed}" in out, out
    out = check(two, "--at", "2026-02-27T08:00:00+01:00")  # the Friday before: its week has no event
    assert f"warning: the news calendar does not cover the week of 2026-02-27: in it {vetoed}" in out, out
    assert "does not cover the week of" in check(two), "judged now (December 2026 or later), March is past"
    gap = calendar("gap.csv", "2026-03-04", "2026-03-18", "2190-03-04")  # no event in the week of 8 March
    out = check(gap, "--at", "2026-03-02T08:00:00Z")
    assert f"warning: the news calendar covers nothing after 2026-03-07: after it {vetoed}" in out, out
    out = check(None, "--at", "2026-03-02T08:00:00Z")
    assert f"warning: the news calendar holds no event: then {vetoed}" in out, out
    for bad in ("next monday", "2026-13-01", "2300-01-01T00:00:00Z"):
        result = CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml"), "--at", bad])
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith(f"error: --at '{bad}': not an instant") and "Traceback" not in result.output
    assert "news calendar" not in CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")]).output


def test_stream_clients_leave_a_quarter_of_a_replicas_requests_to_the_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each open stream holds one of a replica's max_ongoing_requests: with 256 allowed on 64, 128 viewers' streams
    (2 replicas) held every one and the API stopped answering. A replica takes at most those less a quarter; a file
    asking more is not refused (it must still steer a running desk): check-config says what is taken."""
    assert load_settings(ROOT / "octet.yaml").gateway.streams_at_most() == 48
    assert load_settings(ROOT / "octet.yaml", gateway__stream_clients=256).gateway.streams_at_most() == 48
    assert load_settings(ROOT / "octet.yaml", gateway__stream_clients=10).gateway.streams_at_most() == 10
    assert load_settings(ROOT / "octet.yaml", gateway__stream_clients=256,
                         gateway__max_ongoing_requests=256).gateway.streams_at_most() == 192
    assert load_settings(ROOT / "octet.yaml", gateway__max_ongoing_requests=1).gateway.streams_at_most() == 0
    path = write(tmp_path, lambda d: d["gateway"].update(stream_clients=256))
    out = " ".join(CliRunner().invoke(app, ["check-config", "--config", str(path)]).output.split())
    assert ("warning: gateway.stream_clients 256 is more than a replica takes: 48 (max_ongoing_requests 64 less a "
            "quarter") in out, out
    assert "stream_clients" not in CliRunner().invoke(app, ["check-config", "--config", str(ROOT / "octet.yaml")]).output


def test_a_firm_may_not_take_a_shipped_presets_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A firm named 'ftmo.challenge' in the firms section replaced the preset for every account naming it, with no
    word: 50% daily loss read as FTMO's rules by check-config, the backtest and the desk."""
    def shadow(d: dict) -> None:  # type: ignore[type-arg]
        d["firms"]["ftmo.challenge"] = {**d["firms"]["trailing_funded"], "daily_loss_pct": 50, "max_loss_pct": 90}
    with pytest.raises(SettingsError, match=r"firms\.ftmo\.challenge: the name of a shipped preset"):
        load_settings(write(tmp_path, shadow))
    result = CliRunner().invoke(app, ["check-config", "--config", str(write(tmp_path, shadow))])
    assert result.exit_code == 2 and "firms.ftmo.challenge: the name of a shipped preset" in " ".join(result.output.split())


def test_a_settings_file_that_is_a_directory_or_not_text_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "binary.yaml").write_bytes(b"\xbe\xff\x00runtime: {}\n")
    for path, says in ((tmp_path, "cannot read it"), (tmp_path / "binary.yaml", "not UTF-8 text")):
        with pytest.raises(SettingsError, match=says):
            load_settings(path)
        result = CliRunner().invoke(app, ["check-config", "--config", str(path)])
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output, result.output


def test_the_settings_module_reads_no_file_when_imported_and_steering_reads_neither_named_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The defaults were made when the module was imported, reading the shipped news calendar and market closures:
    a bad file there (an export put in its place) broke every `octet` command, the kill switch too. The commands
    that steer a running desk now load the settings without reading those files; the others still refuse them."""
    import subprocess
    import sys

    from cluster.cli.common import steering_settings

    probe = ("import trading.news as n, trading.closures as c\n"
             "def boom(*a, **k): raise SystemExit('read at import')\n"
             "n.read_calendar = boom; c.MarketClosures.from_csv = boom\n"
             "import cluster.config.settings, cluster.cli\nprint('imported')\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "imported" in done.stdout, done.stdout + done.stderr
    bad = tmp_path / "news.csv"
    bad.write_text("Title,Country,Date,Time,Impact,Forecast,Previous\nNFP,USD,03-06-2026,8:30am,High,,\n")  # no zone
    path = write(tmp_path, lambda d: d["agents"]["compliance"].update(news_calendar=str(bad)))
    with pytest.raises(SettingsError, match="news_calendar: .*"):
        load_settings(path)
    assert steering_settings(path).agents.compliance.news_calendar == bad
