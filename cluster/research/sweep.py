"""Parameter sweeps and walk-forward, each trial a backtest (the desk's agents in process) run as a
Ray task across the cluster.

A trial is one set of a strategy's parameters on one stretch of the data; its figures are the
account's metrics (``trading.performance.summarize``, as the desk reports them). A plain sweep runs
every combination of the grid on all the data. A walk-forward runs the grid on each training window,
takes the combination with the best objective there, and runs only that one on the test window
after it (``trading.research.walkforward``): the test figures are out of sample.
"""

from __future__ import annotations

import html
import json
import math
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from cluster.config.secrets import output_dir, write_private
from cluster.config.settings import Settings, SettingsError, error_lines
from trading.market import TickBatch, ts_to_datetime
from trading.research.walkforward import Window, grid, windows

OBJECTIVES = ("sharpe", "sortino", "net_pnl", "return_pct", "profit_factor", "win_rate")
SECTIONS = {"sma_cross": ("strategy", "sma_cross"), "wyckoff": ("agents", "analysis")}


class SweepError(ValueError):
    """A sweep that cannot run as asked: one line for the operator."""


@dataclass
class Trial:
    params: dict[str, Any]
    part: str  # all | train | test
    window: int | None
    from_ns: int
    to_ns: int
    metrics: dict[str, float] = field(default_factory=dict)
    breaches: int = 0
    elapsed_s: float = 0.0


@dataclass
class SweepResult:
    sweep_id: str
    strategy: str
    objective: str
    account: str
    axes: dict[str, list[Any]]
    trials: list[Trial]
    windows: list[dict[str, Any]]  # per walk-forward window: its span, the chosen params, train and test figures
    elapsed_s: float

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "trials"}, "trials": [asdict(t) for t in self.trials]}


def with_params(settings: Settings, strategy: str, params: Mapping[str, Any]) -> Settings:
    """The settings with the strategy chosen for every instrument and its parameters set; a value the
    settings refuse is a SweepError naming it."""
    data = settings.model_dump(mode="python")
    data["strategy"]["default"] = strategy
    data["strategy"]["instruments"] = {}
    section, key = SECTIONS[strategy]
    data[section][key] = {**data[section][key], **params}
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SweepError(f"{strategy} {dict(params)}: {'; '.join(error_lines(exc.errors()[0]))}") from None


def _slice(ticks: TickBatch, lo: int, hi: int) -> TickBatch:
    a, b = np.searchsorted(ticks.ts, lo, "left"), np.searchsorted(ticks.ts, hi, "left")
    return ticks.take(slice(a, b))


def _ranked(value: float) -> float:
    """An infinite figure (no losing trade, no losing day) as one that ranks above any finite one."""
    return value if math.isfinite(value) else 1e9


def run_trial(settings: Settings, ticks: TickBatch, trial: Trial, account: str) -> Trial:
    """One backtest of ``trial`` (its settings already applied) on its stretch of ``ticks``."""
    from cluster.desk.session import Session

    part = _slice(ticks, trial.from_ns, trial.to_ns)
    started = time.perf_counter()
    if len(part) == 0:
        trial.metrics = {"trades": 0.0}
        return trial
    result = Session(settings, in_process=True).run(part)
    # a trial records nothing in the store: its venue journal would be a folder no run names
    shutil.rmtree(Path(settings.runtime.data_dir) / "exec" / result.run_id, ignore_errors=True)
    s = result.summaries[account]
    trial.metrics = {"trades": float(s.trades), "net_pnl": float(s.net_pnl), "return_pct": s.return_pct,
                     "sharpe": s.sharpe, "sortino": _ranked(s.sortino), "max_drawdown_pct": s.max_drawdown_pct,
                     "profit_factor": _ranked(s.profit_factor),
                     "win_rate": s.win_rate}
    trial.breaches = len(result.compliance[account]["breaches"])
    trial.elapsed_s = time.perf_counter() - started
    return trial


def _score(trial: Trial, objective: str) -> float:
    """Higher is better; a trial without trades, or with a breach of a firm rule, ranks last."""
    if trial.breaches or not trial.metrics.get("trades"):
        return -math.inf
    return trial.metrics.get(objective, -math.inf)


Runner = Callable[[list[tuple[Settings, Trial]]], list[Trial]]


def ray_runner(ticks: TickBatch, account: str, on_done: Callable[[Trial], None]) -> Runner:
    """Trials as Ray tasks (one CPU each), the ticks put in the object store once."""
    import ray

    task = ray.remote(num_cpus=1, max_retries=1)(run_trial)
    ticks_ref = ray.put(ticks)

    def run(batch: list[tuple[Settings, Trial]]) -> list[Trial]:
        refs = [task.remote(s, ticks_ref, t, account) for s, t in batch]
        order = {ref: i for i, ref in enumerate(refs)}
        out: list[Trial | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                out[order[ref]] = trial = ray.get(ref)
                on_done(trial)
        return [t for t in out if t is not None]

    return run


def local_runner(ticks: TickBatch, account: str, on_done: Callable[[Trial], None]) -> Runner:
    def run(batch: list[tuple[Settings, Trial]]) -> list[Trial]:
        out = []
        for s, t in batch:
            out.append(run_trial(s, ticks, t, account))
            on_done(out[-1])
        return out

    return run


def prepare(settings: Settings, strategy: str, axes: Mapping[str, Sequence[Any]], objective: str,
            account: str) -> list[tuple[dict[str, Any], Settings]]:
    """Every combination of the grid with its settings, each checked (``SweepError`` naming what is
    wrong): what a sweep can refuse before any data is read."""
    if strategy not in SECTIONS:
        raise SweepError(f"strategy {strategy!r}: one of {', '.join(SECTIONS)}")
    if objective not in OBJECTIVES:
        raise SweepError(f"objective {objective!r}: one of {', '.join(OBJECTIVES)}")
    if account not in [a.id for a in settings.accounts]:
        raise SweepError(f"account {account!r}: the settings have {', '.join(a.id for a in settings.accounts)}")
    return [(params, with_params(settings, strategy, params)) for params in grid(axes)]


def sweep(settings: Settings, ticks: TickBatch, strategy: str, axes: Mapping[str, Sequence[Any]], objective: str,
          account: str, runner: Runner, walk: tuple[int, int, bool] | None = None) -> SweepResult:
    """Run the grid (and the walk-forward, with ``walk`` = (train ns, test ns, anchored))."""
    prepared = prepare(settings, strategy, axes, objective, account)
    if len(ticks) == 0:
        raise SweepError("no ticks to sweep over")
    started = time.perf_counter()
    lo, hi = int(ticks.ts[0]), int(ticks.ts[-1]) + 1
    chosen: list[dict[str, Any]] = []
    if walk is None:
        trials = runner([(s, Trial(p, "all", None, lo, hi)) for p, s in prepared])
    else:
        train_ns, test_ns, anchored = walk
        try:
            spans: list[Window] = windows(lo, hi, train_ns, test_ns, anchored,
                                          settings.session.bar_seconds * 1_000_000_000)
        except ValueError as exc:
            raise SweepError(str(exc)) from None
        trials = runner([(s, Trial(p, "train", w.index, w.train_from, w.train_to)) for w in spans for p, s in prepared])
        tests = []
        for w in spans:
            mine = [t for t in trials if t.window == w.index]
            best = max(mine, key=lambda t: _score(t, objective))
            score = _score(best, objective)  # -inf: no trial of the window traded within the rules
            chosen.append({"window": w.index, "train_from_ns": w.train_from, "train_to_ns": w.train_to,
                           "test_to_ns": w.test_to, "params": best.params, "train": best.metrics,
                           "train_score": score if math.isfinite(score) else None,
                           "no_valid_choice": not math.isfinite(score)})
            tests.append((with_params(settings, strategy, best.params), Trial(best.params, "test", w.index, w.test_from,
                                                                               w.test_to)))
        tested = runner(tests)
        trials += tested
        for row, t in zip(chosen, tested, strict=True):
            row["test"], row["test_breaches"] = t.metrics, t.breaches
    return SweepResult(uuid.uuid4().hex[:12], strategy, objective, account, {k: list(v) for k, v in axes.items()},
                       trials, chosen, time.perf_counter() - started)


# --- what it writes ---------------------------------------------------------------------------------

def _when(ns: int) -> str:
    return ts_to_datetime(ns).strftime("%Y-%m-%d %H:%M")


def _finite(v: Any) -> Any:
    """``v`` with every float that is not finite (a score of -inf, a profit factor of inf) as None."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:,.2f}"
    return html.escape(str(v))


def write_sweep(result: SweepResult, out_dir: Path) -> Path:
    """sweep.json (every trial) and sweep.html (the trials ranked, the walk-forward compared) in
    ``out_dir`` (made 0700 when missing; files 0600)."""
    output_dir(out_dir)
    write_private(out_dir / "sweep.json", json.dumps(_finite(result.as_dict()), indent=1, default=str, allow_nan=False))
    o = result.objective
    cols = ["trades", "net_pnl", "return_pct", "sharpe", "sortino", "max_drawdown_pct", "profit_factor", "win_rate"]
    head = "".join(f"<th>{c}</th>" for c in ["params", "part", "window", "from", "to", *cols, "breaches"])
    ranked = sorted(result.trials, key=lambda t: (t.part != "test", t.window or 0, -_score(t, o)))
    rows = "".join("<tr>" + "".join(f"<td>{x}</td>" for x in [
        _fmt(", ".join(f"{k}={v}" for k, v in t.params.items())), t.part, "" if t.window is None else t.window,
        _when(t.from_ns), _when(t.to_ns), *(_fmt(t.metrics.get(c, float("nan"))) for c in cols), t.breaches]) + "</tr>"
        for t in ranked)
    walk = ""
    if result.windows:
        wrows = "".join(
            f"<tr><td>{w['window']}</td><td>{_when(w['train_from_ns'])} → {_when(w['train_to_ns'])}</td>"
            f"<td>{_when(w['train_to_ns'])} → {_when(w['test_to_ns'])}</td>"
            f"<td>{_fmt(', '.join(f'{k}={v}' for k, v in w['params'].items()))}</td>"
            f"<td>{_fmt(w['train'].get(o, float('nan')))}</td><td>{_fmt(w['test'].get(o, float('nan')))}</td>"
            f"<td>{_fmt(w['test'].get('net_pnl', float('nan')))}</td><td>{w['test_breaches']}</td></tr>"
            for w in result.windows)
        oos = sum(w["test"].get("net_pnl", 0.0) for w in result.windows)
        walk = (f"<h2>Walk-forward</h2><p>Each window's parameters were chosen on its training stretch by {o}, then run "
                f"once on the test stretch after it. Out-of-sample net P&L over the test windows: {oos:,.2f}.</p>"
                f"<table><thead><tr><th>window</th><th>train</th><th>test</th><th>chosen</th><th>{o} (train)</th>"
                f"<th>{o} (test)</th><th>net P&L (test)</th><th>breaches</th></tr></thead><tbody>{wrows}</tbody></table>")
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Octet sweep {result.sweep_id}</title>'
            "<style>body{font:14px system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem}"
            "table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{border:1px solid #d5d8de;"
            "padding:.2rem .45rem;text-align:right}th{background:#f1f3f6}td:first-child{text-align:left}</style>"
            f"</head><body><h1>Sweep {result.sweep_id}: {html.escape(result.strategy)} on {html.escape(result.account)}"
            f"</h1><p>{len(result.trials)} backtests in {result.elapsed_s:,.1f} s; objective {o} (a trial with a "
            "firm-rule breach or no trade ranks last). Axes: "
            f"{_fmt('; '.join(f'{k} = {v}' for k, v in result.axes.items()))}.</p>{walk}"
            f"<h2>Every trial</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>")
    write_private(out_dir / "sweep.html", page)
    return out_dir / "sweep.html"


def parse_axes(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``fast=5,10,20`` → {"fast": [5, 10, 20]}; numbers stay exact (ints, or decimal strings)."""
    axes: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise SweepError(f"--grid {spec!r}: write name=v1,v2,... (e.g. fast=5,10,20)")
        if name in axes:
            raise SweepError(f"--grid {spec!r}: {name} is already an axis (give its values once: {name}=v1,v2,...)")
        parsed: list[Any] = []
        seen: dict[Any, str] = {}
        for v in (x.strip() for x in values.split(",")):
            if not v:
                raise SweepError(f"--grid {spec!r}: an empty value")
            try:
                parsed.append(int(v))
            except ValueError:
                parsed.append(v)
            try:
                number = Decimal(v)  # 20 and 20.0 are one value
            except InvalidOperation:
                number = None
            key: Any = number if number is not None and number.is_finite() else v.lower()  # True is true
            if key in seen:
                raise SweepError(f"--grid {spec!r}: {v} repeats {seen[key]} (each value once: a trial run twice "
                                 "is the same trial)")
            seen[key] = v
        axes[name] = parsed
    return axes


__all__ = ["OBJECTIVES", "SettingsError", "SweepError", "SweepResult", "Trial", "local_runner", "parse_axes",
           "ray_runner", "sweep", "with_params", "write_sweep"]
