"""Running the desk: `demo`, `run`, `generate`, `check-config`."""

from __future__ import annotations

import json
import re
import shlex
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cluster.cli.common import (
    ConfigOpt,
    app,
    config_hint,
    console,
    fail,
    first_line,
    research_pass_odds,
    settings_or_exit,
    start_ray,
    with_local_servers,
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
from cluster.config.settings import Settings

if TYPE_CHECKING:
    from cluster.adapters.live import MemoryLive, RedisLive
    from cluster.desk.record import SessionResult
    from trading.market import TickBatch


def _load_ticks(settings: Settings, config: Path | None = None) -> TickBatch:
    """The session's ticks: the data file's (a missing or refused file is one line, exit code 2), or
    the replay generator's."""
    from cluster.adapters.feeds.paced import FeedError, read_data_file, replay_ticks

    try:
        if settings.session.data_file is None:
            return replay_ticks(settings)
        loaded = read_data_file(settings)
    except FeedError as exc:
        raise fail(config_hint(str(exc), config)) from None
    for report in loaded.reports:  # what was read, skipped and missing, before the session starts
        for line in report.lines():
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    for line in expiring_profiles(settings, loaded.bar_seconds):
        console.print(f"[yellow]warning[/yellow]: {line}", highlight=False, soft_wrap=True)
    return loaded.ticks


def expiring_profiles(settings: Settings, bar_seconds: dict[str, int]) -> list[str]:
    """Accounts whose orders would expire unfilled on quotes made from bars: a profile that holds
    an order back (delay_seconds) misses the bar's open, and its order then lives (expiry_seconds)
    less than the time to the bar's next quote."""
    from trading.intrabar import QUOTES_PER_BAR

    if not bar_seconds:
        return []
    spacing = min(bar_seconds.values()) / QUOTES_PER_BAR
    out = []
    for acc in settings.accounts:
        p = settings.profile(acc)
        low, high = p.delay_seconds
        if high > 0 and low + p.expiry_seconds < spacing:
            out.append(f"account {acc.id} (profile {acc.profile}): its orders wait {low:g}-{high:g} s, then expire "
                       f"{p.expiry_seconds:g} s later, sooner than the {spacing:g} s between the quotes made from "
                       "this file's bars: they will expire unfilled (set a longer expiry_seconds for bar data)")
    return out


def _utc(t: datetime) -> datetime:
    """A time that names no zone is UTC (as --from/--to's help says)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _window(ticks: TickBatch, start: datetime | None, end: datetime | None, bar_ns: int = 1) -> TickBatch:
    """The ticks at or after ``start`` and before ``end`` (UTC when naive), both moved to the desk's
    bar grid (``bar_ns``: the start up, the end down) so that no bar is cut; none left is an error."""
    if start is None and end is None:
        return ticks
    import numpy as np

    from trading.market import datetime_to_ts

    lo = datetime_to_ts(_utc(start)) if start else None
    hi = datetime_to_ts(_utc(end)) if end else None
    asked = (lo, hi)
    lo = -(-lo // bar_ns) * bar_ns if lo is not None else None
    hi = hi // bar_ns * bar_ns if hi is not None else None
    keep = np.ones(len(ticks), np.bool_)
    if lo is not None:
        keep &= ticks.ts >= lo
    if hi is not None:
        keep &= ticks.ts < hi
    if not keep.any():
        # the window as moved to whole bars, when that is what emptied it
        moved = "" if (lo, hi) == asked else (f"; on the desk's {bar_ns // 1_000_000_000} s bars that is "
                                        f"{_stamp(lo) if lo is not None else 'the start'} to "
                                        f"{_stamp(hi) if hi is not None else 'the end'} UTC")
        raise fail(f"no ticks from {start or 'the start'} to {end or 'the end'}{moved} (the data runs from "
                   f"{_stamp(int(ticks.ts.min()))} to {_stamp(int(ticks.ts.max()))} UTC)" if len(ticks)
                   else "no ticks to run")
    return ticks.take(keep)


def _stamp(ns: int, seconds: bool = False) -> str:
    from trading.market import ts_to_datetime

    return ts_to_datetime(ns).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _check_credentials(settings: Settings) -> None:
    """Read every credential the session will use (a remote rust_exec's token and CA, an external
    Kafka's password), so that a missing or exposed one is one clear line, not a failed agent."""
    from cluster.adapters.rust_exec.process import exec_credentials
    from cluster.config.secrets import SecretError, read_private

    if settings.execution.address is not None:
        creds = exec_credentials(settings)
        read_private(creds.token_file)
        for path in (creds.ca_file, creds.cert_file):
            if path is not None and not Path(path).is_file():
                raise SecretError(f"{path}: no such file (execution.ca_file / execution.cert_file)")
        if creds.key_file is not None:
            read_private(creds.key_file)
    access = settings.kafka.access()
    if settings.runtime.bus == "kafka" and access is not None:
        access.config()


def browse_hint(config_path: Path | None, no_haproxy: bool) -> str:
    """What to run to browse a run's records (rich markup): ``make browse``, or ``octet serve`` with the
    run's configuration file when it was not the default one, both quoted for a shell. ``no_haproxy``:
    the gateway's proxy is HAProxy and it is not installed (``octet serve`` would refuse; ``make browse``
    installs it)."""
    named = config_path is not None and config_path != Path("octet.yaml")
    flag = escape(f" --config {shlex.quote(str(config_path))}") if named else ""
    make = escape(f"make browse CONFIG={shlex.quote(str(config_path))}") if named else "make browse"
    if no_haproxy:
        return (f"browse it: [bold]{make}[/bold] (it installs HAProxy, the gateway's proxy, first; or "
                f"OCTET_GATEWAY__PROXY=python octet serve{flag} --login viewer), then open the Dashboard address it "
                "prints")
    return f"browse it: [bold]octet serve{flag} --login viewer[/bold] (`{make}`), then open the Dashboard address it prints"


def run_session(settings: Settings, config_path: Path | None = None, backtest: bool = False,
                window: tuple[datetime | None, datetime | None] = (None, None), report: bool = False) -> None:
    """Run a session with a live progress bar and print its summary. ``backtest``: the agents in
    this process (no Ray), on the ticks within ``window`` (from, to: UTC, either open). ``report``:
    write the run's report (``octet report``) under data_dir/reports/RUN."""
    from cluster.config.secrets import SecretError, write_private
    from cluster.desk.session import Session
    from cluster.storage.anchors import AuditKeyError, key_path, load_key
    from cluster.storage.store import open_store

    writable(Path(settings.runtime.data_dir), "runtime.data_dir", private=False)  # where everything is written
    try:  # credentials first: a missing or exposed one is refused before anything starts
        load_key(key_path(settings), create=True)
        _check_credentials(settings)
    except (AuditKeyError, SecretError) as exc:
        raise fail(str(exc)) from None
    wall = time.perf_counter()
    with console.status("reading ticks" if settings.session.data_file else "generating replay ticks"):
        ticks = _window(_load_ticks(settings, config_path), *window, bar_ns=settings.session.bar_seconds * 1_000_000_000)  # a bad data file is refused before any server starts
    with console.status("starting the local servers the settings ask for"):
        settings = with_local_servers(settings)
    if not backtest:
        start_ray(settings)
    data_dir = Path(settings.runtime.data_dir)
    with console.status(f"opening the {settings.runtime.store} store"):
        try:
            store = open_store(settings)
        except AuditKeyError as exc:
            raise fail(str(exc)) from None
        # the live view is for a gateway in another process (Redis): kept in this one, nobody would read it
        live = _live(settings) if settings.runtime.live != "inprocess" else None
    columns = (TextColumn("[bold]backtest" if backtest else "[bold]session"), BarColumn(), MofNCompleteColumn(), TextColumn("batches"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("session", total=(len(ticks) + settings.session.batch_size - 1)
                            // settings.session.batch_size, info="")

        def on_batch(p, _topo):  # type: ignore[no-untyped-def]
            bar.update(task, completed=p.batch, info=f"{p.ticks:,} ticks · {p.signals} signals · "
                       f"{p.orders} orders · {p.trades} closed · {p.ticks / max(p.elapsed_s, 1e-9):,.0f} ticks/s")

        try:
            session = Session(settings, store, on_batch=on_batch, live=live, in_process=backtest)
            result = session.run(ticks)
            c = result.counts  # positions still open at the end close after the last batch: the bar ends as the summary
            bar.update(task, info=f"{result.ticks:,} ticks · {c['signals']} signals · {c['orders']} orders · "
                       f"{c['trades']} closed · {result.ticks / max(result.elapsed_s, 1e-9):,.0f} ticks/s")
        finally:
            if live is not None:
                live.close()
    result.wall_s = time.perf_counter() - wall
    print_summary(settings, result)
    used = session.trust.status()
    if used["model"] or used["error"] or session.trust.seen is not None:  # a model decided (or was meant to)
        console.print(f"signals scored by model {escape(str(used['model'] or 'none'))} "
                      f"({used['mode']}; learning.use_model)" + (f": [yellow]{escape(str(used['error']))}[/yellow]"
                                                                  if used["error"] else ""), soft_wrap=True)
    out = data_dir / "last_session.json"
    write_private(out, json.dumps(session_json(result), indent=2, default=str, allow_nan=False))
    console.print(f"records of run [bold]{result.run_id}[/bold] in [bold]{store.where}[/bold] "
                  f"(audit up to record {store.acked.get('audit_seq', 0)}), summary in [bold]{out}[/bold]")
    if report:
        from cluster.research.report import ReportError, load_run, write_report

        try:
            with console.status("writing the run's report"):
                page = write_report(load_run(store.engine, result.run_id), data_dir / "reports" / result.run_id)
            console.print(f"report: [bold]{page}[/bold]", soft_wrap=True)
        except ReportError as exc:
            console.print(f"[yellow]no report: {exc}[/yellow]")
    if settings.gateway.dashboard:
        from serve.deploy import haproxy_binary

        console.print(browse_hint(config_path, settings.gateway.proxy == "haproxy" and not haproxy_binary()))
    if store.anchor_errors:
        where = store.anchors.path if store.anchors is not None else "the anchor log"
        console.print(f"[red bold]{store.anchor_errors} batch(es) not anchored[/red bold] in {where} "
                      "(see the log): the next anchor covers them if one was written")
    if live is not None and live.errors:
        console.print(f"[yellow]live view: {live.errors} Redis error(s), last: {live.last_error}[/yellow]")
    breaches = sum(len(v["breaches"]) for v in result.compliance.values())
    if breaches:
        console.print(f"[red bold]{breaches} hard-rule breach(es)[/red bold]")
        for acc, v in result.compliance.items():  # the first of each account's, its instants in UTC
            for line in v["breaches"][:3]:
                said = re.sub(r"\b\d{17,19}\b", lambda m: f"{_stamp(int(m.group()), seconds=True)} UTC", line)
                console.print(f"  {acc}: {said}", highlight=False, markup=False)
    for d in result.discrepancies:
        console.print(f"[red bold]books differ from rust_exec:[/red bold] {d}")
    if result.counts["discrepancies"] > len(result.discrepancies):
        console.print(f"[red bold]... and {result.counts['discrepancies'] - len(result.discrepancies)} more[/red bold]")
    if breaches or result.discrepancies:
        raise typer.Exit(1)


def _live(settings: Settings) -> MemoryLive | RedisLive:
    from cluster.adapters.live import MemoryLive, RedisLive

    gw = settings.gateway
    if settings.runtime.live == "inprocess":
        return MemoryLive(gw.stream_throttle_ms, gw.stream_window)
    assert settings.storage.redis_url is not None, "with_local_servers names one"
    return RedisLive(settings.storage.redis_url.get_secret_value(), settings.registry(), gw.stream_throttle_ms,
                     gw.stream_window)


def session_json(result: SessionResult) -> dict[str, object]:
    from dataclasses import asdict

    from cluster.storage.rows import json_safe

    doc: dict[str, object] = json_safe({
        "run_id": result.run_id, "ticks": result.ticks, "elapsed_s": result.elapsed_s,
        "signals": result.counts["signals"], "orders": result.counts["orders"], "trades": result.counts["trades"],
        "vetoes_by_rule": dict(result.vetoes_by_rule), "dead_letters": dict(result.dead_letters),
        "accounts": {a: asdict(s) for a, s in result.summaries.items()},
        "compliance": result.compliance, "execution": result.execution,
        "discrepancies": result.discrepancies,  # the first ones (cluster.desk.record.KEPT_DISCREPANCIES)
        "discrepancies_total": result.counts["discrepancies"],
    })
    return doc


def print_summary(settings: Settings, result: SessionResult) -> None:
    rate = result.ticks / result.elapsed_s if result.elapsed_s else 0.0
    wall = f" ({result.wall_s:.1f} s from start to end)" if result.wall_s else ""
    console.print(f"\n[bold]{result.ticks:,}[/bold] ticks in {result.elapsed_s:.1f} s ({rate:,.0f} ticks/s){wall}, "
                  f"{result.counts['signals']} signals, {result.counts['orders']} orders, "
                  f"{result.counts['trades']} closed trades")
    accounts = Table(title="accounts")
    for col in ("account", "firm rules", "trades", "win rate", "net P&L", "return", "max drawdown",
                "min daily headroom", "min max-loss headroom", "breaches"):
        accounts.add_column(col, justify="right" if col not in ("account", "firm rules") else "left")
    for acc in settings.accounts:
        s = result.summaries[acc.id]
        c = result.compliance[acc.id]
        accounts.add_row(acc.id, acc.firm, str(s.trades), f"{s.win_rate:.0%}", f"{s.net_pnl:,.2f}",
                         f"{s.return_pct:+.2f}%", f"{s.max_drawdown:,.2f} ({s.max_drawdown_pct:.2f}%)",
                         "no daily rule" if c["min_daily_headroom"] is None else f"{c['min_daily_headroom']:,.2f}",
                         f"{c['min_max_loss_headroom']:,.2f}",
                         str(len(c["breaches"])))
    console.print(accounts)
    for acc in settings.accounts:  # the phase's objectives still open, and the pass odds
        c = result.compliance[acc.id]
        odds = c.get("pass_odds") or {}
        plan = (c.get("objectives") or {}).get("plan") or []
        current = odds.get("current")
        if current:
            best = odds.get("best_risk_fraction")
            said = (f"pass odds {current['p_pass']:.0%}, " if odds.get("has_target") else "") + \
                f"hard-breach odds {current['p_hard_breach']:.0%}" + \
                (f", inactivity odds {idle:.0%}" if (idle := current["p_fail"].get("inactivity")) is not None else "") + \
                (f", most passes at {best * 100:.2f}% a trade" if best else "")
            console.print(f"{acc.id}: {said} ({odds.get('source')}, {odds.get('history_days')} days)",
                          highlight=False, markup=False)
        if plan:
            console.print(f"{acc.id} to pass: " + "; ".join(plan), highlight=False, markup=False)
        if c.get("idle_deadline_ns"):  # the inactivity rule, as things stood at the end
            when = "ran out" if c.get("idle_ran_out") else "the next by"
            console.print(f"{acc.id}: its firm closes it after {_days(c['max_idle_days'])} without a trade entered: "
                          f"{when} {_stamp(c['idle_deadline_ns'])} UTC", highlight=False, markup=False)
    agents = Table(title="agents")
    for col in ("agent", "calls", "events", "mean latency", "restarts"):
        agents.add_column(col, justify="left" if col == "agent" else "right")
    for st in result.agent_stats:
        mean_ms = st["busy_s"] / st["calls"] * 1000 if st["calls"] else 0.0
        agents.add_row(st["name"], f"{st['calls']:,}", f"{st['events']:,}", f"{mean_ms:.2f} ms", str(st["restarts"]))
    console.print(agents)
    if result.vetoes_by_rule:
        console.print("vetoes: " + ", ".join(f"{k} {v}" for k, v in sorted(result.vetoes_by_rule.items())))
    if result.dead_letters:
        console.print("dead letters: " + ", ".join(f"{k} {v}" for k, v in sorted(result.dead_letters.items())))
    x = result.execution
    if x:
        in_process = str(x["address"]).startswith("inprocess:")
        where = "rust_exec in this process" if in_process else f"rust_exec at {x['address']}"
        restarts = "" if in_process else f", {x['restarts']} restarts"
        console.print(f"{where}: {x['orders']} orders, {x['reports']} execution reports, "
                      f"{x['open_positions']} positions open{restarts}; journal {x['journal'] or '(remote)'}")


@app.command()
def demo(config: ConfigOpt = Path("octet.yaml"),
         ticks: Annotated[int | None, typer.Option(help="Override session.ticks.")] = None,
         seed: Annotated[int | None, typer.Option(help="Override session.seed.")] = None) -> None:
    """Run a full paper session on embedded defaults: local Ray, in-process bus, SQLite under ./var/."""
    # the demo keeps its bars (storage.record_ticks), so that its chart can be browsed
    run_session(settings_or_exit(config, session__ticks=ticks, session__seed=seed, storage__record_ticks=True), config,
                report=True)


StoreOpt = Annotated[str | None, typer.Option(help="Where records go: sqlite | postgres (runtime.store).")]
LiveOpt = Annotated[str | None, typer.Option(help="Live state: inprocess | redis (runtime.live).")]


@app.command()
def run(config: ConfigOpt = Path("octet.yaml"),
        data: Annotated[Path | None, typer.Option(
            help="Replay a recorded file: quotes or bars, CSV/Parquet, in the formats of `octet data check`.")] = None,
        format: FormatOpt = None, symbol: SymbolOpt = None, tz: TzOpt = None, columns: ColumnsOpt = None,
        time_format: TimeFormatOpt = None, spread: SpreadOpt = None, price_side: SideOpt = None,
        bar_seconds: Annotated[int | None, typer.Option(help="The desk's bar size in s (session.bar_seconds).")] = None,
        strategy: Annotated[str | None, typer.Option(
            help="The signal source of every instrument: wyckoff | sma_cross (strategy.default).")] = None,
        ray_address: Annotated[str | None, typer.Option(help="Connect to a Ray cluster ('auto').")] = None,
        ticks: Annotated[int | None, typer.Option(help="Override session.ticks.")] = None,
        store: StoreOpt = None, live: LiveOpt = None,
        bus: Annotated[str | None, typer.Option(help="Market data path: inprocess | kafka (runtime.bus).")] = None,
        record_ticks: Annotated[bool | None, typer.Option(help="Also store every tick and bar (research).")]
        = None) -> None:
    """Run a session as configured (optionally on recorded ticks, PostgreSQL and Redis, or a Ray cluster).

    With --store postgres and no storage.url, a local PostgreSQL is started under data_dir/postgres;
    with --live redis and no storage.redis_url, a local Redis under data_dir/redis."""
    run_session(settings_or_exit(config, session__data_file=data, runtime__ray_address=ray_address, session__ticks=ticks,
                          runtime__store=store, runtime__live=live, storage__record_ticks=record_ticks,
                          runtime__bus=bus, session__bar_seconds=bar_seconds, strategy__default=strategy,
                          **data_overrides(format, symbol, tz, columns, time_format, spread, price_side)), config)


@app.command()
def backtest(config: ConfigOpt = Path("octet.yaml"),
             data: Annotated[Path | None, typer.Option(
                 help="A recorded file (quotes or bars: `octet data check` formats); default: the generator.")] = None,
             strategy: Annotated[str | None, typer.Option(
                 help="The signal source of every instrument: wyckoff | sma_cross (strategy.default).")] = None,
             start: Annotated[datetime | None, typer.Option(
                 "--from", help="First instant to trade (UTC unless it names a zone; moved up to a bar's start).")] = None,
             end: Annotated[datetime | None, typer.Option("--to", help="Instant to stop before (UTC; moved down to a bar's start).")] = None,
             accounts: Annotated[str | None, typer.Option(
                 help="Only these accounts of the settings, comma-separated (default: all).")] = None,
             format: FormatOpt = None, symbol: SymbolOpt = None, tz: TzOpt = None, columns: ColumnsOpt = None,
        time_format: TimeFormatOpt = None, spread: SpreadOpt = None, price_side: SideOpt = None,
             bar_seconds: Annotated[int | None, typer.Option(help="The desk's bar size in s (session.bar_seconds).")]
             = None,
             ticks: Annotated[int | None, typer.Option(help="Generated ticks when there is no --data.")] = None,
             store: StoreOpt = None,
             record_ticks: Annotated[bool | None, typer.Option(help="Also store every tick and bar (research).")]
             = None,
             report: Annotated[bool, typer.Option(help="Write the run's report (octet report) when it ends.")]
             = True,
             pass_odds: Annotated[bool | None, typer.Option(
                 "--pass-odds/--no-pass-odds",
                 help="Run the pass-odds monitor (default: only for accounts that size by it).")] = None,
             model: Annotated[bool, typer.Option(
                 "--model/--no-model",
                 help="Score signals with the champion model (docs/learning.md). Off by default: a backtest over "
                      "the data a model learned from is in sample, and runs to learn from must not be filtered "
                      "by the model before.")] = False) -> None:
    """Backtest: the desk's own agents and driver on recorded (or generated) data, in this process
    (no Ray), against rust_exec's paper venue, recorded like any run. The same data through
    `octet run` gives the same orders and fills. Its rust_exec journal is not fsynced: a backtest
    has nothing to recover after a crash but to run again."""
    settings = settings_or_exit(config, session__data_file=data, session__ticks=ticks, strategy__default=strategy,
                                session__bar_seconds=bar_seconds, runtime__store=store, runtime__bus="inprocess",
                                runtime__live="inprocess", storage__record_ticks=record_ticks, execution__fsync=False,
                                **data_overrides(format, symbol, tz, columns, time_format, spread, price_side))
    settings = settings.model_copy(update={"learning": settings.learning.model_copy(update={"use_model": model})})
    if accounts is not None:
        wanted = [a.strip() for a in accounts.split(",") if a.strip()]
        known = [a.id for a in settings.accounts]
        unknown = [a for a in wanted if a not in known]
        if unknown or not wanted:
            raise fail(f"--accounts: unknown account(s) {', '.join(unknown) or '(none given)'}; the settings have "
                       f"{', '.join(known)}")
        settings = settings.model_copy(update={"accounts": [a for a in settings.accounts if a.id in wanted]})
    settings = research_pass_odds(settings, pass_odds)
    if start is not None and end is not None and _utc(end) <= _utc(start):  # a zoned one compares with a naive one
        raise fail(f"--to {end} is not after --from {start}")
    run_session(settings, config, backtest=True, window=(start, end), report=report)


@app.command()
def generate(out: Annotated[Path, typer.Argument(help="Output file, .csv or .parquet.")],
             config: ConfigOpt = Path("octet.yaml"),
             ticks: Annotated[int | None, typer.Option(help="Override session.ticks.")] = None) -> None:
    """Write the replay generator's ticks to a file (for research or `octet run --data`)."""
    from cluster.adapters.feeds.files import octet_frame

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise fail(f"{out}: the output is a .csv or a .parquet file")
    if not out.parent.is_dir():
        raise fail(f"{out}: there is no folder {out.parent}")
    settings = settings_or_exit(config, session__ticks=ticks)
    frame = octet_frame(_load_ticks(settings, config), settings.registry())
    try:
        frame.write_parquet(out) if out.suffix.lower() == ".parquet" else frame.write_csv(out)
    except OSError as exc:
        raise fail(f"{out}: cannot write there ({exc.strerror or first_line(exc)})") from None
    console.print(f"wrote {len(frame):,} ticks to {out}")


AtOpt = Annotated[str | None, typer.Option(
    "--at", help="Judge the files' coverage and the inactivity deadlines at this instant (ISO 8601; no zone: UTC) "
                 "instead of now: a replay's first tick, to check settings for a backtest.")]


@app.command("check-config")
def check_config(config: ConfigOpt = Path("octet.yaml"), at: AtOpt = None) -> None:
    """Validate the settings file and print what it defines, with a warning for each file or deadline that would
    stop an account's trading or end it from now (or --at) on."""
    from trading.market import datetime_to_ts, iso_to_ts, ts_to_datetime

    try:
        when = ts_to_datetime(iso_to_ts(at)) if at is not None else datetime.now(UTC)
    except ValueError as exc:
        raise fail(f"--at {at!r}: not an instant ({exc}); give one as 2026-03-02T08:00:00Z") from None
    s = settings_or_exit(config)
    from_when = "from now" if at is None else f"from {when:%Y-%m-%d %H:%M} UTC"
    console.print(f"{config}: ok — {len(s.instruments)} instruments, {len(s.accounts)} accounts "
                  f"({', '.join(f'{a.id} ({a.firm})' for a in s.accounts)})")
    g = s.gateway
    if g.streams_at_most() < g.stream_clients:
        console.print(f"warning: gateway.stream_clients {g.stream_clients} is more than a replica takes: "
                      f"{g.streams_at_most()} (max_ongoing_requests {g.max_ongoing_requests} less a quarter, kept for "
                      "the API's requests; each open stream holds one)", highlight=False, markup=False)
    closing = [(a.id, limit) for a in s.accounts if (limit := s.firm_rules(a).holding.max_break_minutes)]
    if closing:  # what the holding rule on market breaks has to go on, and until when
        from trading.closures import MarketClosures

        path = s.agents.compliance.market_closures
        breaks = MarketClosures.from_csv(path) if path is not None else MarketClosures()
        who = ", ".join(f"{acc} ({limit} min)" for acc, limit in closing)
        last = ts_to_datetime(max(c.end_ns for c in breaks.closures)) if len(breaks) else None
        console.print(f"market closures: {len(breaks)} breaks in {path}"
                      + (f", the last ending {last:%Y-%m-%d %H:%M} UTC" if last else "")
                      + f"; closing before each break longer than their limit: {who}")
        if last is None or last < when:
            console.print(f"warning: no break is listed {from_when} on, so the holding rule on market breaks has "
                          "nothing to check: add the breaks your firm announces (agents.compliance.market_closures)")
    news_ruled = [a.id for a in s.accounts if s.firm_rules(a).news.active]
    if news_ruled:  # a firm's news rule cannot be checked past the calendar's last week: every order is vetoed
        from trading.news import NewsCalendar

        path = s.agents.compliance.news_calendar
        news = NewsCalendar.from_csv(path, s.agents.compliance.news_calendar_tz) if path is not None else NewsCalendar()
        console.print(f"news calendar: {path or 'none (agents.compliance.news_calendar)'} covers {news.coverage()}; "
                      "accounts with a news rule: "
                      f"{', '.join(news_ruled)}", highlight=False, markup=False)
        traded = sorted({c for i in s.registry().values() for c in (i.base, i.quote)})
        missing = [c for c in traded if c not in {e.currency for e in news.events}]
        if news.events and missing:  # a currency with no event: its news never blocks an order
            console.print(f"warning: the news calendar has no event in {', '.join(missing)} (the instruments trade "
                          f"{', '.join(traded)}): news in {'it' if len(missing) == 1 else 'them'} never blocks an order "
                          "of these accounts; export every currency you trade", highlight=False, markup=False)
        # the desk judges the calendar a week at a time (NewsCalendar.covers): the weeks from this one on, without a gap
        covered = ts_to_datetime(news.covered_until(datetime_to_ts(when))).date() - timedelta(days=1)  # a Saturday
        if not news.weeks or covered < (when + timedelta(days=7)).date():
            state = ("holds no event: then" if not news.weeks else
                     f"does not cover the week of {when:%Y-%m-%d}: in it" if covered < when.date() else
                     f"covers nothing after {covered}: after it")
            console.print(f"warning: the news calendar {state} every order of these accounts is vetoed (news_calendar), "
                          "and an account that enters no trade meets its firm's inactivity rule: load the next weeks' "
                          "export (octet data news FILE)", highlight=False, markup=False)
    for a in s.accounts:  # a scaling plan: the lots the account may hold together, by the profit its day began with
        size = s.firm_rules(a).size
        if size.scaling:
            steps = ", ".join(f"{lots} once a day begins above {a.balance * (100 + pct) / 100:,.2f} (+{pct}%)"
                              for pct, lots in size.scaling)
            console.print(f"scaling plan: {a.id} may hold {size.max_lots_total} lots together, {steps}; the cap moves "
                          "only at the firm's daily reset", highlight=False, markup=False)
    for a in s.accounts:  # the inactivity rule: when the firm closes an account that enters no trade
        days = s.firm_rules(a).activity.max_idle_days
        if not days:
            continue
        if a.last_trade is None:
            console.print(f"inactivity: {a.id} is closed by its firm after {_days(days)} without a trade entered, "
                          "counted from the desk's first tick: give the account's last trade as accounts[].last_trade "
                          "if it traded before", highlight=False, markup=False)
            continue
        ends = a.last_trade.astimezone(UTC) + timedelta(days=days)
        console.print(f"inactivity: {a.id} is closed by its firm after {_days(days)} without a trade entered: "
                      f"last trade {a.last_trade.astimezone(UTC):%Y-%m-%d %H:%M} UTC, so enter one by "
                      f"{ends:%Y-%m-%d %H:%M} UTC", highlight=False, markup=False)
        if a.last_trade > when:
            console.print(f"warning: {a.id}'s last_trade is in the future: the desk takes it as a trade entered "
                          "then, once its clock reaches it, and until then counts from its first tick",
                          highlight=False, markup=False)
        elif ends < when:
            console.print(f"warning: {a.id}'s {_days(days)} ran out on {ends:%Y-%m-%d %H:%M} UTC: the firm may have "
                          f"closed it already (a desk started {'now' if at is None else 'then'} records the breach at "
                          "its first tick)",
                          highlight=False, markup=False)
