"""A run's report: one self-contained HTML file (its charts inside it) and the charts as PNGs, from
the store's records of the run.

For each account: equity and drawdown, the firm-rule headroom over time and the closest call, the
monthly returns, the usual metrics (each defined in the report), per-signal-type statistics and the
trade list (all of it in trades.csv beside the report; the HTML shows the first ``TRADES_SHOWN``).
The metrics are those the desk's PerformanceAgent computes (``trading.performance.summarize``),
here from the stored equity snapshots and trades.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cluster.config.secrets import output_dir, write_private
from cluster.storage import models as m
from cluster.storage.reads import reading
from trading.ledger import ClosedTrade
from trading.market import ts_to_datetime
from trading.orders import CloseReason, Side
from trading.performance import EquityCurve, PerformanceSummary, summarize

TRADES_SHOWN = 2_000
NS_PER_S = 1_000_000_000


class ReportError(RuntimeError):
    """No such run, or nothing to report: one line for the operator."""


@dataclass
class AccountRecords:
    account_id: str
    firm: str
    currency: str
    initial: Decimal
    equity: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # ts, balance, equity
    headroom: list[tuple[int, Decimal | None, Decimal, Decimal | None, Decimal]] = field(default_factory=list)
    trades: list[ClosedTrade] = field(default_factory=list)


@dataclass
class RunRecords:
    run_id: str
    status: str
    started_ns: int
    ticks: int
    elapsed_s: float
    settings: dict[str, Any]
    accounts: dict[str, AccountRecords]
    setups: dict[str, str]  # signal id -> its setup


# runs by when they were recorded (a backtest's started_ns is its data's first time, not when it ran)
LATEST_FIRST = (m.Run.recorded_ns.desc().nulls_last(), m.Run.started_ns.desc())


def latest_run(engine: Engine) -> str:
    with reading(engine).connect() as c:
        run = c.execute(select(m.Run.run_id).order_by(*LATEST_FIRST).limit(1)).scalar()
    if run is None:
        raise ReportError("the store holds no run yet: run `octet demo`, `octet run` or `octet backtest` first")
    return str(run)


def load_run(engine: Engine, run_id: str) -> RunRecords:
    """The run's records, by account. ReportError when the store has no such run."""
    with Session(reading(engine)) as c:  # a report beside a running desk never holds up its batches (SQLite)
        r = c.scalars(select(m.Run).where(m.Run.run_id == run_id)).first()
        if r is None:
            known = c.scalars(select(m.Run.run_id).order_by(*LATEST_FIRST).limit(5)).all()
            raise ReportError(f"no run {run_id!r} in the store (the latest first: {', '.join(known) or 'none'})")
        accounts: dict[str, AccountRecords] = {}
        settings_accounts = {a["id"]: a for a in (r.settings or {}).get("accounts", []) if isinstance(a, dict)}
        rows = c.scalars(select(m.Account)).all()
        known_accounts = {a.account_id: a for a in rows}
        for row in c.scalars(select(m.EquityRow).where(m.EquityRow.run_id == run_id).order_by(m.EquityRow.ts_ns,
                                                                                              m.EquityRow.id)):
            acc = accounts.get(row.account_id)
            if acc is None:
                meta = known_accounts.get(row.account_id)
                given = settings_accounts.get(row.account_id, {})
                acc = accounts[row.account_id] = AccountRecords(
                    row.account_id, meta.firm if meta else str(given.get("firm", "")),
                    meta.currency if meta else str(given.get("currency", "")),
                    meta.initial_balance if meta else Decimal(str(given.get("balance", row.balance))))
            acc.equity.append((row.ts_ns, row.balance, row.equity))
        for h in c.scalars(select(m.HeadroomRow).where(m.HeadroomRow.run_id == run_id).order_by(m.HeadroomRow.ts_ns,
                                                                                               m.HeadroomRow.id)):
            if h.account_id in accounts:
                accounts[h.account_id].headroom.append((h.ts_ns, h.daily_headroom, h.max_loss_headroom,
                                                        h.worst_case_daily_headroom, h.worst_case_max_loss_headroom))
        for t in c.scalars(select(m.TradeRow).where(m.TradeRow.run_id == run_id).order_by(m.TradeRow.closed_ns,
                                                                                         m.TradeRow.position_id)):
            if t.account_id in accounts:
                accounts[t.account_id].trades.append(ClosedTrade(
                    t.position_id, t.account_id, t.symbol, Side[t.side], t.lots, t.entry, t.exit,
                    t.opened_ns, t.closed_ns, t.pnl, t.commission, CloseReason(t.reason), t.signal_id, t.initial_risk))
        setups = {str(sid): str(setup) for sid, setup in c.execute(select(m.SignalRow.signal_id, m.SignalRow.setup)
                                                                   .where(m.SignalRow.run_id == run_id))}
    if not accounts:
        raise ReportError(f"run {run_id} has no equity records to report (it recorded nothing yet)")
    return RunRecords(r.run_id, r.status, r.started_ns, r.ticks, r.elapsed_s, r.settings or {}, accounts, setups)


# --- figures ----------------------------------------------------------------------------------------

def summary_of(acc: AccountRecords) -> PerformanceSummary:
    curve = EquityCurve(acc.initial)
    for ts, _, equity in acc.equity:
        curve.add(ts, equity)
    return summarize(acc.account_id, curve, acc.trades)


def monthly_returns(acc: AccountRecords) -> list[tuple[str, float]]:
    """Per calendar month (UTC): the change of equity over the month, in % of equity at its start."""
    last_of: dict[str, Decimal] = {}
    for ts, _, equity in acc.equity:
        last_of[ts_to_datetime(ts).strftime("%Y-%m")] = equity
    out, before = [], acc.initial
    for month, end in last_of.items():
        out.append((month, float((end - before) / before * 100) if before else 0.0))
        before = end
    return out


def closest_call(acc: AccountRecords) -> dict[str, Any] | None:
    """The least headroom the account had to its firm's limits, counting every open stop as hit."""
    if not acc.headroom:
        return None
    daily = [(h[3], h[0]) for h in acc.headroom if h[3] is not None]
    overall = min(((h[4], h[0]) for h in acc.headroom), key=lambda x: x[0])
    out: dict[str, Any] = {"max_loss": overall[0], "max_loss_at": overall[1]}
    if daily:
        d = min(daily, key=lambda x: x[0])
        out["daily"], out["daily_at"] = d[0], d[1]
    return out


def by_setup(acc: AccountRecords, setups: dict[str, str]) -> list[dict[str, Any]]:
    groups: dict[str, list[ClosedTrade]] = defaultdict(list)
    for t in acc.trades:
        groups[setups.get(t.signal_id, "unknown")].append(t)
    rows = []
    for setup, trades in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        wins = [t for t in trades if t.pnl > 0]
        gross_win = sum((t.pnl for t in wins), Decimal(0))
        gross_loss = -sum((t.pnl for t in trades if t.pnl <= 0), Decimal(0))
        rows.append({"setup": setup, "trades": len(trades), "win_rate": len(wins) / len(trades),
                     "avg_r": sum(t.r_multiple for t in trades) / len(trades),
                     "net_pnl": sum((t.pnl for t in trades), Decimal(0)),
                     "profit_factor": float(gross_win / gross_loss) if gross_loss > 0 else None})
    return rows


# --- charts -----------------------------------------------------------------------------------------

def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def charts(run: RunRecords) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    accounts = list(run.accounts.values())
    out = {}
    fig, (ax_eq, ax_dd) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[2, 1])
    for acc in accounts:
        when = [ts_to_datetime(ts) for ts, _, _ in acc.equity]
        pct = [float((e - acc.initial) / acc.initial * 100) for _, _, e in acc.equity]
        peak, dd = float("-inf"), []
        for _, _, e in acc.equity:
            peak = max(peak, float(e))
            dd.append((float(e) - peak) / peak * 100 if peak else 0.0)
        ax_eq.plot(when, pct, lw=1.2, label=acc.account_id)
        ax_dd.fill_between(when, dd, 0, alpha=0.35, step="post", label=acc.account_id)
    ax_eq.set_ylabel("return, % of initial balance")
    ax_eq.axhline(0, color="#888", lw=0.6)
    ax_eq.legend(loc="upper left", fontsize=8)
    ax_eq.set_title(f"run {run.run_id}: equity")
    ax_dd.set_ylabel("drawdown, % of peak")
    ax_dd.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    out["equity.png"] = _png(fig)
    plt.close(fig)
    fig, axes = plt.subplots(len(accounts), 1, figsize=(10, 2.6 * len(accounts)), sharex=True, squeeze=False)
    for ax, acc in zip(axes[:, 0], accounts, strict=True):
        when = [ts_to_datetime(h[0]) for h in acc.headroom]
        if acc.headroom and any(h[3] is not None for h in acc.headroom):
            ax.plot(when, [float(h[3]) if h[3] is not None else float("nan") for h in acc.headroom], lw=1,
                    label="daily loss headroom, open stops hit")
        ax.plot(when, [float(h[4]) for h in acc.headroom], lw=1, label="max loss headroom, open stops hit")
        ax.axhline(0, color="#c33", lw=0.8)
        ax.set_ylabel(acc.currency or "headroom")
        ax.set_title(f"{acc.account_id} ({acc.firm}): room to the firm's limits", fontsize=9)
        ax.legend(loc="lower left", fontsize=7)
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    out["headroom.png"] = _png(fig)
    plt.close(fig)
    return out


# --- the page ---------------------------------------------------------------------------------------

DEFINITIONS = [
    ("Return", "net P&L of the closed trades over the initial balance."),
    ("Max drawdown", "the largest fall of equity from its running peak (amount, and % of that peak)."),
    ("Sharpe", "mean daily return over its standard deviation, times √252 (daily returns of end-of-day equity)."),
    ("Sortino", "mean daily return over the root mean square of the negative daily returns, times √252 (∞ with no losing day)."),
    ("Profit factor", "gross profit of winning trades over gross loss of losing ones (∞ with no loss)."),
    ("Win rate", "winning trades (P&L above 0) over all closed trades."),
    ("Profitable months", "calendar months (UTC) whose closed trades made money, over months with a trade."),
    ("Avg R", "mean of each trade's P&L over its initial risk (entry to stop, in money)."),
    ("Monthly return", "the change of equity over the month, in % of equity at its start."),
    ("Closest call", "the least room left to the firm's daily and maximum loss limits, had every open stop "
                     "been hit at that instant (the worst case the ComplianceAgent checks)."),
]


def _e(value: object) -> str:
    return html.escape(str(value))


def _when(ns: int) -> str:
    return ts_to_datetime(ns).strftime("%Y-%m-%d %H:%M")


def _stamp(ns: int) -> str:
    """A time in trades.csv: UTC to the second (the column's name says UTC), which a spreadsheet reads and
    ``pass_odds.prior_trades`` takes back."""
    return ts_to_datetime(ns).strftime("%Y-%m-%d %H:%M:%S")


def _money(value: Decimal | float | None) -> str:
    return "—" if value is None else f"{float(value):,.2f}"


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1c1f24;padding:0 1rem}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d5d8de;padding:.25rem .5rem;text-align:right}th{background:#f1f3f6}
td:first-child,th:first-child{text-align:left}.neg{color:#b22}.pos{color:#176b2c}
img{max-width:100%;border:1px solid #e2e4e8}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{font-weight:600}.note{color:#555}"""


def render(run: RunRecords, images: dict[str, bytes]) -> str:
    parts = [f"<h1>Octet run {_e(run.run_id)}</h1>",
             f'<p class="note">{run.ticks:,} ticks from {_e(_when(run.started_ns))} UTC; status {_e(run.status)}; '
             f"{len(run.accounts)} account(s). Generated by <code>octet report</code>; every figure is defined at the "
             "end.</p>", "<h2>Equity and drawdown</h2>",
             f'<img alt="equity and drawdown of each account" src="data:image/png;base64,'
             f'{base64.b64encode(images["equity.png"]).decode()}">']
    rows = []
    for acc in run.accounts.values():
        s = summary_of(acc)
        avg_r = sum(t.r_multiple for t in acc.trades) / len(acc.trades) if acc.trades else 0.0
        rows.append([_e(acc.account_id), _e(acc.firm), str(s.trades), f"{s.return_pct:+.2f}%",
                     f"{_money(s.net_pnl)} {_e(acc.currency)}", f"{_money(s.max_drawdown)} ({s.max_drawdown_pct:.2f}%)",
                     f"{s.sharpe:.2f}", "∞" if s.sortino == float("inf") else f"{s.sortino:.2f}",
                     "∞" if s.profit_factor == float("inf") else f"{s.profit_factor:.2f}", f"{s.win_rate:.0%}",
                     f"{s.profitable_months}/{s.months}", f"{avg_r:+.2f}"])
    parts += ["<h2>Metrics</h2>", _table(["account", "firm", "trades", "return", "net P&L", "max drawdown", "Sharpe",
                                          "Sortino", "profit factor", "win rate", "profitable months", "avg R"], rows)]
    parts += ["<h2>Rule headroom over time</h2>",
              f'<img alt="headroom to the firm limits of each account" src="data:image/png;base64,'
              f'{base64.b64encode(images["headroom.png"]).decode()}">']
    calls = []
    for acc in run.accounts.values():
        c = closest_call(acc)
        if c is None:
            calls.append([_e(acc.account_id), "—", "—"])
            continue
        daily = f"{_money(c['daily'])} at {_e(_when(c['daily_at']))}" if "daily" in c else "no daily rule"
        calls.append([_e(acc.account_id), daily, f"{_money(c['max_loss'])} at {_e(_when(c['max_loss_at']))}"])
    parts += ["<h3>Closest call</h3>", _table(["account", "least daily-loss room", "least max-loss room"], calls)]
    parts.append("<h2>Monthly returns</h2>")
    months = sorted({mo for acc in run.accounts.values() for mo, _ in monthly_returns(acc)})
    by_acc = {a: dict(monthly_returns(acc)) for a, acc in run.accounts.items()}

    def pct(v: float | None) -> str:
        if v is None:
            return ""
        return f'<span class="{"pos" if v > 0 else "neg" if v < 0 else ""}">{v:+.2f}%</span>'

    parts.append(_table(["month", *run.accounts], [[_e(mo), *(pct(by_acc[a].get(mo)) for a in run.accounts)]
                                                   for mo in months]))
    parts.append("<h2>By signal type</h2>")
    for acc in run.accounts.values():
        stats = by_setup(acc, run.setups)
        parts.append(f"<h3>{_e(acc.account_id)}</h3>")
        parts.append(_table(["setup", "trades", "win rate", "avg R", "net P&L", "profit factor"],
                            [[_e(r["setup"]), str(r["trades"]), f"{r['win_rate']:.0%}", f"{r['avg_r']:+.2f}",
                              _money(r["net_pnl"]), "∞" if r["profit_factor"] is None else f"{r['profit_factor']:.2f}"]
                             for r in stats]) if stats else "<p>no closed trade</p>")
    trades = sorted((t for acc in run.accounts.values() for t in acc.trades), key=lambda t: (t.closed_ns, t.position_id))
    parts.append(f"<h2>Trades</h2><p class=\"note\">{len(trades):,} closed trade(s)"
                 + (f"; the first {TRADES_SHOWN:,} here, all in trades.csv" if len(trades) > TRADES_SHOWN else "")
                 + "</p>")
    parts.append(_table(["account", "symbol", "side", "lots", "opened", "entry", "closed", "exit", "P&L", "R", "exit by",
                         "setup"],
                        [[_e(t.account_id), _e(t.symbol), t.side.name.lower(), _e(t.lots), _e(_when(t.opened_ns)),
                          _e(t.entry), _e(_when(t.closed_ns)), _e(t.exit),
                          f'<span class="{"pos" if t.pnl > 0 else "neg"}">{_money(t.pnl)}</span>',
                          f"{t.r_multiple:+.2f}", _e(t.reason.value), _e(run.setups.get(t.signal_id, ""))]
                         for t in trades[:TRADES_SHOWN]]))
    parts.append("<h2>Definitions</h2><dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in DEFINITIONS)
                 + "</dl>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Octet run {_e(run.run_id)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f"<body>{''.join(parts)}</body></html>")


def write_report(run: RunRecords, out_dir: Path) -> Path:
    """report.html, equity.png, headroom.png and trades.csv in ``out_dir`` (made 0700 when missing; files 0600)."""
    output_dir(out_dir)
    images = charts(run)
    for name, data in images.items():
        write_private(out_dir / name, data)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["account", "position_id", "symbol", "side", "lots", "opened_utc", "entry", "closed_utc", "exit", "pnl",
                "commission", "r_multiple", "exit_by", "setup", "signal_id"])
    for acc in run.accounts.values():
        for t in acc.trades:
            w.writerow([t.account_id, t.position_id, t.symbol, t.side.name.lower(), t.lots, _stamp(t.opened_ns), t.entry,
                        _stamp(t.closed_ns), t.exit, t.pnl, t.commission, f"{t.r_multiple:.4f}", t.reason.value,
                        run.setups.get(t.signal_id, ""), t.signal_id])
    write_private(out_dir / "trades.csv", buf.getvalue())
    page = out_dir / "report.html"
    write_private(page, render(run, images))
    return page
