"""`octet audit`: verify the hash-chained audit trail and its signed anchors; show an order's story."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.markup import escape
from rich.table import Table

from cluster.cli.common import ConfigOpt, UrlOpt, console, errors, fail, group, settings_or_exit, store_of

audit_app = group("audit", "The hash-chained audit trail.")


AnchorsOpt = Annotated[Path | None, typer.Option(
    "--anchors", help="The anchor log; default: storage.audit_anchor_log, or data_dir/audit/anchors.jsonl.")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key", help="The key that signed the anchors; default: storage.audit_key_file, or data_dir/secrets/audit.key.")]
NoAnchorsOpt = Annotated[bool, typer.Option(
    "--no-anchors", help="Check the chain alone (a deleted or recomputed tail then goes unnoticed).")]


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None, anchors: AnchorsOpt = None,
                 key: KeyOpt = None, no_anchors: NoAnchorsOpt = False) -> None:
    """Recompute the whole chain, then hold every signed anchor against it: a record gone, rewritten,
    or an anchor line forged is named (exit 1). Exit 2: nothing to check against (no anchor log, no key)."""
    from cluster.storage import anchors as anchoring
    from cluster.storage import audit

    if not no_anchors and (anchors is None or key is None):
        settings = settings_or_exit(config)
        anchors = anchors or anchoring.log_path(settings)
        key = key or anchoring.key_path(settings)
    store = store_of(config, url, must_exist=True)
    if no_anchors:
        with console.status("verifying the audit chain"):
            v = audit.verify(store.engine)
        console.print("[yellow]warning: anchors not checked (--no-anchors): a deleted tail, or a tail rewritten "
                      "with its hashes recomputed, would still verify[/yellow]", soft_wrap=True)
        if v.ok:
            console.print(f"[green]audit chain intact[/green]: {v.records:,} records in {escape(store.where)}")
            return
        console.print(f"[red bold]audit chain broken at record {v.first_bad}[/red bold]: {escape(v.reason)} "
                      f"({v.records:,} records before it hold)", soft_wrap=True)
        raise typer.Exit(1)
    assert anchors is not None and key is not None
    if not anchors.exists():
        n = anchoring.records(store.engine)
        if n:
            raise fail(f"no anchor log at {anchors}: the tail of the audit chain ({n:,} records) cannot be checked "
                        "(a deleted or recomputed tail would go unnoticed); give --anchors, or --no-anchors to "
                        "check the chain alone")
        console.print(f"[green]audit chain intact[/green]: no record in {escape(store.where)}, no anchor")
        return
    try:
        secret = anchoring.load_key(key)
        with console.status("verifying the audit chain and its anchors"):
            rep = anchoring.check(store.engine, anchors, secret)
    except anchoring.AuditKeyError as exc:
        raise fail(str(exc)) from None
    for note in rep.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    if rep.ok:
        console.print(f"[green]audit chain intact[/green]: {rep.chain.records:,} records in {escape(store.where)}, "
                      f"anchored up to record {rep.anchored_to:,} by {rep.anchors:,} signed anchor(s) "
                      f"(last {rep.last_at or '-'}) in {escape(str(anchors))}", soft_wrap=True)
        return
    console.print("[red bold]audit trail broken[/red bold]"
                  + (f" at record {rep.first_bad}" if rep.first_bad is not None else "")
                  + f" in {escape(store.where)} (" + (f"the chain itself holds: {rep.chain.records:,} records"
                                                       if rep.chain.ok else
                                                       f"{rep.chain.records:,} records hold before the break")
                  + "):", soft_wrap=True)
    for problem in rep.problems[:20]:
        console.print(f"  - {escape(problem)}", soft_wrap=True)
    if len(rep.problems) > 20:
        console.print(f"  ... and {len(rep.problems) - 20} more")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(order: Annotated[str, typer.Option("--order", help="A client order id.")],
               config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None,
               run: Annotated[str | None, typer.Option(
                   "--run", help="The run (client order ids repeat when the same data runs again; "
                                 "default: the latest run that placed the order).")] = None) -> None:
    """The story of one order in one run, from the signal behind it to its last fill."""
    from cluster.storage import audit

    store = store_of(config, url, must_exist=True)
    runs = audit.runs_of_order(store.engine, order)
    if not runs or (run is not None and run not in runs):
        where = f" in run {escape(run)}" if run is not None and runs else ""
        others = f" (it is in run{'s' if len(runs) > 1 else ''} {', '.join(reversed(runs))})" if where else ""
        errors.print(f"[red]no audit record of order {escape(order)}{where}[/red] in {escape(store.where)}{others}",
                     soft_wrap=True)
        raise typer.Exit(1)
    records = audit.story(store.engine, order, run or runs[-1])
    if run is None and len(runs) > 1:
        console.print(f"order {escape(order)} was placed in {len(runs)} runs (latest first: "
                      f"{', '.join(reversed(runs))}); this is the latest's: --run picks another", soft_wrap=True)
    from trading.market import ts_to_datetime

    table = Table(title=escape(f"order {order} (run {records[0].run_id})"))  # text from the store is not markup
    for col in ("#", "time (UTC)", "what", "account", "detail"):
        table.add_column(col)
    for r in records:
        table.add_row(str(r.seq), ts_to_datetime(r.ts_ns).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if r.ts_ns else "-",
                      escape(r.kind), escape(r.account_id or ""), escape(_detail(r.kind, r.payload)))
    console.print(table)


def _detail(kind: str, p: dict[str, object]) -> str:
    """A record's payload in a line: as the desk writes each kind, or (a payload of another shape, from
    another version or another writer) as JSON."""
    try:
        return _shaped(kind, p)
    except (KeyError, TypeError, ValueError, AttributeError):
        return json.dumps(p, default=str)[:160]


def _shaped(kind: str, p: dict[str, object]) -> str:
    # the payloads' shapes are those the desk writes (cluster.storage.rows)
    if kind == "signal":
        evidence = cast("list[dict[str, object]]", p.get("evidence", []))
        events = ", ".join(str(e.get("event")) for e in evidence)
        return (f"{p['setup']} {p['side']} {p['symbol']} entry {p['entry']} stop {p['stop']} "
                f"confidence {float(cast('float | str', p['confidence'])):.2f}; evidence: {events}")
    if kind == "decision":
        return f"{p['step']}: {p['outcome']}{' (' + str(p['rule']) + ')' if p['rule'] else ''} {p['reason']}"
    if kind == "order":
        return (f"{p['side']} {p['lots']} lots {p['symbol']} {p['order_type']} stop {p['stop_loss']} "
                f"target {p['take_profit']} profile {p['profile']} seed {p['seed']}")
    if kind == "report":
        fill = cast("dict[str, object] | None", p.get("fill"))
        extra = f" {fill['kind']} {fill['lots']} at {fill['price']} ({fill['reason']})" if fill else ""
        return f"{p['status']}{extra}{' ' + str(p['reason']) if p['reason'] else ''}"
    if kind == "trade":
        return f"closed {p['side']} {p['lots']} {p['entry']} -> {p['exit']}: P&L {p['pnl']} ({p['reason']})"
    return json.dumps(p, default=str)[:160]
