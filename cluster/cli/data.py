"""Recorded market data: `octet data check` (what a file holds and what of it cannot be used) and
`octet data convert` (broker and vendor formats to Octet's quotes file)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cluster.cli.common import ConfigOpt, config_hint, console, errors, fail, first_line, group, settings_or_exit
from cluster.config.secrets import private_dir
from cluster.config.settings import Settings

if TYPE_CHECKING:
    from cluster.adapters.feeds.files import ImportReport, Loaded

data = group("data", "Recorded market data: check a file, convert it to Octet's format.")

FormatOpt = Annotated[str | None, typer.Option(
    "--format", help="auto | octet | mt5 | histdata | dukascopy | generic (session.data_format; auto: from the first line).")]
SymbolOpt = Annotated[str | None, typer.Option(help="The instrument of a one-instrument file (default: from its name).")]
TzOpt = Annotated[str | None, typer.Option(
    "--tz", help="The clock of the file's times: NY+7 (broker server time), an IANA zone, +02:00 or UTC.")]
ColumnsOpt = Annotated[str | None, typer.Option(help="generic: field=column pairs, e.g. ts=Time,bid=Bid,ask=Ask.")]
TimeFormatOpt = Annotated[str | None, typer.Option(help="generic: a strptime format of the times, e.g. %d/%m/%Y %H:%M.")]
SpreadOpt = Annotated[int | None, typer.Option("--spread", help="Bars: the spread in points (over the file's own).")]
SideOpt = Annotated[str | None, typer.Option(help="Bars: bid | ask | mid, which side the prices are.")]
StrictOpt = Annotated[bool | None, typer.Option("--strict/--lenient", help="Refuse a file with any unusable row.")]
MaxSkippedOpt = Annotated[float | None, typer.Option(help="Skip at most this share of rows (0.01 = 1%).")]
SpikeOpt = Annotated[float | None, typer.Option(
    help="A price this many times above or below the rows around it is a bad print (default 2; 0: no check).")]


def data_overrides(format: str | None = None, symbol: str | None = None, tz: str | None = None,
                   columns: str | None = None, time_format: str | None = None, spread: int | None = None,
                   price_side: str | None = None, strict: bool | None = None,
                   max_skipped: float | None = None, spike_factor: float | None = None) -> dict[str, object]:
    """The command line's data options as settings overrides (None: not given)."""
    from cluster.adapters.feeds.files import DataFileError, parse_columns_option

    try:
        cols = parse_columns_option(columns) if columns is not None else None
    except DataFileError as exc:
        raise fail(str(exc)) from None
    return {"session__data_format": format, "session__data_symbol": symbol, "session__data_tz": tz,
            "session__data_columns": cols, "session__data_time_format": time_format,
            "session__data_spread_points": spread, "session__data_price_side": price_side,
            "session__data_strict": strict, "session__data_max_skipped": max_skipped,
            "session__data_spike_factor": spike_factor}


def _read(settings: Settings, files: list[Path], every_row: bool = False) -> Loaded:
    """The files read as a session would (``every_row``: without the limit on unusable rows)."""
    from cluster.adapters.feeds.files import load_market_files
    from cluster.adapters.feeds.paced import file_spec

    s = settings.session
    strict, max_skipped = (False, 1.0) if every_row else (s.data_strict, s.data_max_skipped)
    return load_market_files(files, file_spec(settings), settings.registry(), strict=strict, max_skipped=max_skipped)


def _every_row(settings: Settings, files: list[Path]) -> list[ImportReport]:
    """After a refusal: the files' reports read again without the limit on unusable rows (none when
    nothing at all can be read: the refusal's line says why)."""
    from cluster.adapters.feeds.files import DataFileError

    try:
        return _read(settings, files, every_row=True).reports
    except (OSError, DataFileError):
        return []


def _load(settings: Settings, files: list[Path], listing: bool = False, config: Path | None = None) -> Loaded:
    """The files read as a session would; a refused file is one line (exit 2). ``listing``: a file
    refused for its unusable rows is first read again without the limit and its report printed,
    so the refusal comes after the rows that caused it."""
    from cluster.adapters.feeds.files import DataFileError

    try:
        with console.status(f"reading {len(files)} file(s)"):
            return _read(settings, files)
    except (OSError, DataFileError) as exc:
        line = first_line(exc)
        if listing and isinstance(exc, DataFileError) and "rows cannot be used" in line:
            for report in _every_row(settings, files):
                for text in report.lines():
                    console.print(text, highlight=False, markup=False, soft_wrap=True)
            line = line.split("; `octet data check")[0]
        raise fail(config_hint(line, config)) from None


def _check_json(settings: Settings, files: list[Path], config: Path | None = None) -> None:
    """``data check --json``: each file's report, with ``refused`` null when the files can be used; on a
    refusal, the line that refuses them, and reports of every row (as the listing without --json prints
    them). Exit 2 on a refusal."""
    from cluster.adapters.feeds.files import DataFileError

    try:
        loaded = _read(settings, files)
    except (OSError, DataFileError) as exc:
        line, reports = config_hint(first_line(exc), config), _every_row(settings, files)
        print(json.dumps([{**r.as_dict(), "refused": line} for r in reports] or [{"refused": line}], indent=2))
        raise typer.Exit(2) from None
    print(json.dumps([{**r.as_dict(), "refused": None} for r in loaded.reports], indent=2))


@data.command()
def check(files: Annotated[list[Path], typer.Argument(help="CSV/Parquet files (.gz or .zip too).")],
          config: ConfigOpt = Path("octet.yaml"), format: FormatOpt = None, symbol: SymbolOpt = None,
          tz: TzOpt = None, columns: ColumnsOpt = None, time_format: TimeFormatOpt = None, spread: SpreadOpt = None,
          price_side: SideOpt = None, strict: StrictOpt = None, max_skipped: MaxSkippedOpt = None,
          spike_factor: SpikeOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="The reports as JSON.")] = False) -> None:
    """Read files as a session would and report what they hold, what was skipped (with line
    numbers) and why, and gaps while the market was open. Exit 2 when a file would be refused."""
    settings = settings_or_exit(config, **data_overrides(format, symbol, tz, columns, time_format, spread,
                                                          price_side, strict, max_skipped, spike_factor))
    if as_json:
        _check_json(settings, files, config)
        return
    loaded = _load(settings, files, listing=True)
    for report in loaded.reports:
        for line in report.lines():
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    _warn_shut(loaded)
    for sym in sorted(loaded.bar_offgrid):  # a backtest of it refuses: said now, not at the run
        errors.print(f"[yellow]warning:[/yellow] {escape(loaded.offgrid(sym))} (a backtest of this file refuses it, "
                     "and `octet data convert` makes no quotes of it)", soft_wrap=True)


def _warn_shut(loaded: Loaded) -> None:
    """A warning when many quotes fall while the FX market is shut (Friday to Sunday 17:00 New York): a clock
    read wrong (--tz Asia/Tokyo for a NY+7 export, Etc/GMT+2 for GMT+2) puts bars in the weekend, and nothing
    else says so. (Only a hint for CFDs, whose hours differ.)"""
    from trading.market import fx_market_closed

    ts = loaded.ticks.ts
    shut = int(fx_market_closed(ts).sum()) if len(ts) else 0
    if shut >= max(3, len(ts) // 200):
        errors.print(f"[yellow]warning:[/yellow] {shut:,} of {len(ts):,} quotes fall while the FX market is shut "
                     "(Friday to Sunday 17:00 New York): for FX, the file's clock is likely not the one --tz (or "
                     "session.data_tz) names; an IANA Etc/GMT+2 is UTC-2", soft_wrap=True)


def _make_folder(out: Path) -> list[Path]:
    """Make ``out``'s folder when missing (0700; missing parents with the usual mode), and return the
    folders made, deepest first, for ``_unmake`` (on its own failure it leaves none)."""
    made = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
    try:
        if made:
            private_dir(out.parent)
    except OSError:
        _unmake(made)
        raise
    return made


def _unmake(made: list[Path]) -> None:
    """Remove the folders a command made (deepest first) while they are empty."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            return


@data.command()
def convert(files: Annotated[list[Path], typer.Argument(help="CSV/Parquet files (.gz or .zip too).")],
            out: Annotated[Path, typer.Option(help="The quotes file to write, .csv or .parquet.")],
            config: ConfigOpt = Path("octet.yaml"), format: FormatOpt = None, symbol: SymbolOpt = None,
            tz: TzOpt = None, columns: ColumnsOpt = None, time_format: TimeFormatOpt = None,
            spread: SpreadOpt = None, price_side: SideOpt = None, strict: StrictOpt = None,
            max_skipped: MaxSkippedOpt = None, spike_factor: SpikeOpt = None) -> None:
    """Write the files' usable quotes (bars through the intra-bar model), merged in time order, as
    one file in Octet's format (`octet run --data OUT` reads it without further options)."""
    from cluster.adapters.feeds.files import octet_frame

    if out.suffix not in (".csv", ".parquet"):
        raise fail(f"--out {out}: must end in .csv or .parquet")
    if any(out.resolve() == f.resolve() for f in files):
        raise fail(f"--out {out} is one of the files read")
    if out.is_dir():
        raise fail(f"--out {out} is a directory")
    settings = settings_or_exit(config, **data_overrides(format, symbol, tz, columns, time_format, spread,
                                                          price_side, strict, max_skipped, spike_factor))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    made: list[Path] = []  # the folders made for it, deepest first: removed again if nothing is written
    try:  # where it goes is checked before the files are read; new folders 0700, the file 0600
        made = _make_folder(out)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    except OSError as exc:
        _unmake(made)
        raise fail(f"--out {out}: {exc.strerror or exc}") from None
    written = False
    try:
        loaded = _load(settings, files, config=config)
        for report in loaded.reports:
            for line in report.lines():
                console.print(line, highlight=False, markup=False, soft_wrap=True)
        _warn_shut(loaded)
        if loaded.bar_offgrid:  # its quotes would make bars that match none of the file's
            raise fail(f"{loaded.offgrid(min(loaded.bar_offgrid))}: no quotes are made of it (the desk's bars from "
                       "them would match none of the file's)")
        frame = octet_frame(loaded.ticks, settings.registry())
        frame.write_parquet(tmp) if out.suffix == ".parquet" else frame.write_csv(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
        written = True
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
        if not written:  # a refused file leaves no folder behind either
            _unmake(made)
    sizes = sorted(set(loaded.bar_seconds.values()))
    hint = (f" (made from bars of {', '.join(str(s) for s in sizes)} s: run with --bar-seconds {max(sizes)}; a "
            "quotes file does not keep the bars' paths, so a stop inside a bar then fills at the quote that "
            "crossed it: run the bar file itself for fills at the stop's price)") if sizes else ""
    console.print(f"wrote {len(frame):,} quotes to {out}{hint}", highlight=False, markup=False, soft_wrap=True)


@data.command()
def news(file: Annotated[Path, typer.Argument(help="An economic calendar export: ForexFactory, Investing.com-style, "
                                                   "or Octet's time_utc,currency,impact,title.")],
         tz: Annotated[str | None, typer.Option(
             "--tz", help="The zone the export's times are in (an IANA name); not needed for Octet's layout or "
                          "ISO times with an offset.")] = None,
         out: Annotated[Path | None, typer.Option(
             help="Write the events in Octet's layout to this .csv file (0600), for agents.compliance.news_calendar.")] = None) -> None:
    """Check a news calendar: its layout, events by impact, the weeks it covers and the rows it
    skips; with --out, write it in Octet's layout (UTC times), which the desk reads without a zone."""
    import csv
    import io

    from cluster.config.secrets import write_private
    from trading.errors import InvalidValue
    from trading.market import ts_to_datetime
    from trading.news import read_calendar

    try:
        read = read_calendar(file, tz)
    except InvalidValue as exc:
        raise fail(str(exc)) from None
    console.print(read.summary(), highlight=False, markup=False, soft_wrap=True)
    if not len(read.calendar):
        raise fail(f"{file}: no event with a time and a currency: nothing to check orders against")
    if out is not None:
        if out.suffix.lower() != ".csv":  # the desk reads a calendar as CSV only: x.parquet would hold CSV
            raise fail(f"--out {out}: must end in .csv (the desk reads a news calendar as CSV)")
        if out.resolve() == file.resolve():
            raise fail(f"--out {out} is the file read")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["time_utc", "currency", "impact", "title"])
        for e in read.calendar.events:
            w.writerow([ts_to_datetime(e.ts_ns).strftime("%Y-%m-%dT%H:%M:%SZ"), e.currency, e.impact, e.title])
        made: list[Path] = []
        try:  # new folders 0700, as convert's; the file 0600
            made = _make_folder(out)
            write_private(out, buf.getvalue())
        except OSError as exc:
            _unmake(made)
            raise fail(f"--out {out}: {exc.strerror or exc}") from None
        console.print(f"wrote {len(read.calendar):,} events to {out}" + (" (its folder made, 0700)" if made else ""),
                      highlight=False, markup=False)
