"""`octet report [RUN]`: a run's report, one self-contained HTML file with its charts as PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster.cli.common import ConfigOpt, UrlOpt, app, console, fail, settings_or_exit, store_of, writable


@app.command()
def report(run: Annotated[str | None, typer.Argument(help="The run id (default: the latest run in the store).")] = None,
           config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None,
           out: Annotated[Path | None, typer.Option(help="The folder to write (default: data_dir/reports/RUN).")]
           = None) -> None:
    """Write a run's report: equity and drawdown, monthly returns, each account's rule headroom over
    time and its closest call, per-signal-type statistics, the trade list and the usual metrics,
    each defined in it (report.html, equity.png, headroom.png, trades.csv; the owner's only)."""
    from cluster.research.report import ReportError, latest_run, load_run, write_report

    settings = settings_or_exit(config)
    store = store_of(config, url, must_exist=True)
    try:
        with console.status("reading the run's records"):
            run_id = run or latest_run(store.engine)
            records = load_run(store.engine, run_id)
    except ReportError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    where = out or Path(settings.runtime.data_dir) / "reports" / run_id
    if out is not None:
        writable(out, "--out")  # a folder that cannot be written is one line; none is made for a run not there
    try:
        with console.status("drawing"):
            page = write_report(records, where)
    except OSError as exc:
        raise fail(f"{where}: cannot write the report ({exc.strerror or exc})") from None
    console.print(f"report of run [bold]{run_id}[/bold]: [bold]{page}[/bold] (with equity.png, headroom.png and "
                  "trades.csv beside it)", soft_wrap=True)
