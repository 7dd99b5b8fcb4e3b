"""`octet sweep`: a strategy's parameter grid, or a walk-forward, as backtests on Ray."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cluster.cli.common import (
    ConfigOpt,
    app,
    config_hint,
    console,
    fail,
    research_pass_odds,
    settings_or_exit,
    start_ray,
    writable,
)
from cluster.cli.data import (
    ColumnsOpt,
    FormatOpt,
    SideOpt,
    SpreadOpt,
    SymbolOpt,
    TimeFormatOpt,
    TzOpt,
    data_overrides,
)

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$")


def _span_ns(text: str, what: str) -> int:
    m = _SPAN.match(text)
    if m is None:
        raise fail(f"--walk-forward: {what} {text!r} is not a length such as 720h, 30d or 4w")
    return int(float(m.group(1)) * {"h": 3_600, "d": 86_400, "w": 604_800}[m.group(2)] * 1_000_000_000)


@app.command()
def sweep(strategy: Annotated[str, typer.Option(help="sma_cross | wyckoff.")],
          grid: Annotated[list[str], typer.Option(
              help="An axis: name=v1,v2,... (sma_cross: fast, slow, stop_pips, target_pips; wyckoff: its "
                   "thresholds, agents.analysis). Repeat for more axes.")],
          config: ConfigOpt = Path("octet.yaml"),
          data: Annotated[Path | None, typer.Option(help="A recorded file; default: the generator.")] = None,
          format: FormatOpt = None, symbol: SymbolOpt = None, tz: TzOpt = None, columns: ColumnsOpt = None,
        time_format: TimeFormatOpt = None, spread: SpreadOpt = None, price_side: SideOpt = None,
          bar_seconds: Annotated[int | None, typer.Option(help="The desk's bar size in s (session.bar_seconds).")]
          = None,
          ticks: Annotated[int | None, typer.Option(help="Generated ticks when there is no --data.")] = None,
          objective: Annotated[str, typer.Option(
              help="What ranks a trial: sharpe | sortino | net_pnl | return_pct | profit_factor | win_rate.")]
          = "sharpe",
          account: Annotated[str | None, typer.Option(help="Whose figures rank (default: the first account).")]
          = None,
          walk_forward: Annotated[str | None, typer.Option(
              help="TRAIN:TEST lengths, e.g. 720h:168h or 30d:7d: choose on each training window, judge on the "
                   "test window after it.")] = None,
          anchored: Annotated[bool, typer.Option(help="Walk-forward training windows all start at the data's start.")]
          = False,
          local: Annotated[bool, typer.Option(help="Run the trials one by one in this process (no Ray).")] = False,
          ray_address: Annotated[str | None, typer.Option(help="Connect to a Ray cluster ('auto').")] = None,
          out: Annotated[Path | None, typer.Option(help="The folder to write (default: data_dir/sweeps/ID).")]
          = None,
          pass_odds: Annotated[bool | None, typer.Option(
              "--pass-odds/--no-pass-odds",
              help="Run the pass-odds monitor in each trial (default: only for accounts that size by it).")]
          = None) -> None:
    """Backtest every combination of a strategy's parameters, each trial a Ray task across the cluster
    (the desk's agents in the task's own process); with --walk-forward, choose on each training window
    and judge the choice on the test window after it. Writes sweep.json and sweep.html."""
    from cluster.adapters.feeds.paced import FeedError, read_data_file, replay_ticks
    from cluster.research.sweep import SweepError, local_runner, parse_axes, prepare, ray_runner, write_sweep
    from cluster.research.sweep import sweep as run_sweep

    settings = settings_or_exit(config, session__data_file=data, session__ticks=ticks, session__bar_seconds=bar_seconds,
                                runtime__ray_address=ray_address, runtime__bus="inprocess", runtime__live="inprocess",
                                execution__fsync=False,
                                **data_overrides(format, symbol, tz, columns, time_format, spread, price_side))
    settings = research_pass_odds(settings, pass_odds)
    walk = None
    if walk_forward is not None:
        train, sep, test = walk_forward.partition(":")
        if not sep:
            raise fail(f"--walk-forward {walk_forward!r}: write TRAIN:TEST, e.g. 720h:168h")
        walk = (_span_ns(train, "TRAIN"), _span_ns(test, "TEST"), anchored)
    who = account or settings.accounts[0].id
    try:
        axes = parse_axes(grid)
        prepare(settings, strategy, axes, objective, who)  # a bad grid, objective or account before the data
        with console.status("reading ticks" if data else "generating ticks"):
            batch = read_data_file(settings).ticks if settings.session.data_file else replay_ticks(settings)
    except (SweepError, FeedError) as exc:
        raise fail(config_hint(str(exc), config)) from None
    writable(out if out is not None else Path(settings.runtime.data_dir) / "sweeps", "--out" if out else "data_dir")
    n = 1
    for values in axes.values():
        n *= len(values)
    if not local:
        start_ray(settings)
    shown = (TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("backtests"),
             TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*shown, console=console) as bar:
        task = bar.add_task("sweep", total=n, info="")

        def done(trial) -> None:  # type: ignore[no-untyped-def]
            bar.update(task, advance=1, info=f"last: {trial.part} {trial.params} {objective} "
                                             f"{trial.metrics.get(objective, float('nan')):.2f}")

        runner = (local_runner if local else ray_runner)(batch, who, done)
        try:
            if walk is not None:  # the windows are known only once the sweep splits the data
                from trading.research.walkforward import windows

                try:
                    count = len(windows(int(batch.ts[0]), int(batch.ts[-1]) + 1, *walk,
                                         bar_ns=settings.session.bar_seconds * 1_000_000_000))
                except ValueError as exc:
                    raise fail(str(exc)) from None
                bar.update(task, total=n * count + count)
            result = run_sweep(settings, batch, strategy, axes, objective, who, runner, walk)
        except SweepError as exc:
            raise fail(str(exc)) from None
    where = out or Path(settings.runtime.data_dir) / "sweeps" / result.sweep_id
    try:
        page = write_sweep(result, where)
    except OSError as exc:
        raise fail(f"{where}: cannot write the results ({exc.strerror or exc})") from None
    best = max((t for t in result.trials if t.part in ("all", "train")),
               key=lambda t: t.metrics.get(objective, float("-inf")) if not t.breaches else float("-inf"))
    console.print(f"{len(result.trials)} backtests in {result.elapsed_s:,.1f} s; best in sample: {best.params} "
                  f"({objective} {best.metrics.get(objective, float('nan')):.2f})", highlight=False)
    if result.windows:
        oos = sum(w["test"].get("net_pnl", 0.0) for w in result.windows)
        console.print(f"walk-forward: {len(result.windows)} window(s), out-of-sample net P&L {oos:,.2f}", highlight=False)
    console.print(f"results: [bold]{page}[/bold] and sweep.json beside it", soft_wrap=True)
