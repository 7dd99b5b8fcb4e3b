"""``octet desk start|stop|status|halt|resume|flatten|reload|alerts|ack``: a desk that runs until it is stopped.

``start`` launches the driver (``octet desk run``) in the background, waits for its first tick and
returns; ``stop`` asks it to stop (SIGTERM: no new saga, the one under way ends, everything is
saved) and waits until it has; ``status`` reads what it last wrote. The controls are requests in
``data_dir/desk/control`` that the desk takes between two units of work, answers, and records in the
audit trail with who asked. A desk started again continues its run (docs/operators.md, "The desk").
"""

from __future__ import annotations

import getpass
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cluster.cli.common import (
    ConfigOpt,
    console,
    fail,
    group,
    settings_or_exit,
    steering_settings,
    store_of,
    with_local_servers,
)

desk = group("desk", "A desk that runs until stopped: start, watch, control and stop it.")

SpeedOpt = Annotated[float | None, typer.Option(help="Market seconds per wall second (desk.speed).")]
AccountOpt = Annotated[str | None, typer.Option("--account", "-a", help="One account (left out: the whole desk).")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the audit trail).")]
WhoOpt = Annotated[str | None, typer.Option(help="Who asks (recorded; default: your login name).")]


def _files(config: Path) -> Any:
    from cluster.config.secrets import state_key
    from cluster.desk.desk import DeskError, DeskFiles

    settings = steering_settings(config)  # steering a desk: whatever its files hold
    data_dir = Path(settings.runtime.data_dir)
    try:
        files = DeskFiles(data_dir, state_key(data_dir))
        files.meta()  # readable, or one line
    except (DeskError, OSError) as exc:
        raise fail(str(exc)) from None
    return files


def _running(files: Any, settle: float = 10.0) -> int | None:
    """The running driver's pid, or None. The driver's lock says whether one runs; a driver that
    holds it and has not yet said its pid (it is starting) is waited for, up to ``settle`` seconds."""
    began = time.time()
    while (pid := files.driver()) == 0:
        if time.time() - began > settle:
            raise fail(f"a desk driver holds {files.lock_path} but its pid in {files.meta_path} is not its own: "
                       "stop it by hand (or wait for it to start)", 1)
        time.sleep(0.1)
    return pid  # type: ignore[no-any-return]


@desk.command()
def start(config: ConfigOpt = Path("octet.yaml"), speed: SpeedOpt = None,
          new: Annotated[bool, typer.Option("--new", help="Start a new run even if the last one can resume.")] = False,
          foreground: Annotated[bool, typer.Option(help="Run in this terminal (Ctrl-C stops it).")] = False,
          wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the first tick.")] = 180.0) -> None:
    """Start the desk (or resume the run it was running) and return once its first tick is processed."""
    settings_or_exit(config, desk__speed=speed)  # a bad file is refused here, not in the background
    files = _files(config)
    if (pid := files.driver()) is not None:
        raise fail(f"the desk is already running ({f'pid {pid}' if pid else 'starting'}); `octet desk status` shows it")
    if foreground:
        _run(config, speed, new)
        return
    started = time.time()
    cmd = [sys.executable, "-m", "cluster.cli", "desk", "run", "--config", str(config)]
    if speed is not None:
        cmd += ["--speed", str(speed)]
    if new:
        cmd.append("--new")
    log = open(os.open(files.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")  # noqa: SIM115
    try:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=os.getcwd())
    finally:
        log.close()
    with console.status("starting the desk (Ray, rust_exec, the agents)") as shown:
        while True:
            meta = files.meta()
            if meta.get("pid") == proc.pid and meta.get("first_tick_at"):
                break
            if proc.poll() is not None:
                tail = files.log_path.read_text(errors="replace").strip().splitlines()[-12:]
                console.print("\n".join(tail), markup=False)
                raise fail(f"the desk exited with code {proc.returncode} before its first tick; log: {files.log_path}")
            if time.time() - started > wait:
                raise fail(f"no first tick after {wait:.0f} s; the desk (pid {proc.pid}) is still starting: "
                           f"see {files.log_path} and `octet desk status`", 1)
            shown.update(f"starting the desk: {meta.get('phase', 'launching')}")
            time.sleep(0.1)
    meta = files.meta()
    how = "resumed run" if meta.get("resumed") else "new run"
    console.print(f"desk running (pid {proc.pid}), {how} [bold]{meta.get('run_id')}[/bold]: first tick processed "
                  f"{meta['first_tick_at'] - started:.1f} s after start. Watch: `octet desk status`; "
                  f"stop: `octet desk stop`; log: {files.log_path}")


@desk.command(hidden=True)
def run(config: ConfigOpt = Path("octet.yaml"), speed: SpeedOpt = None, new: bool = False) -> None:
    """The desk's driver, in this process (what `octet desk start` launches)."""
    _run(config, speed, new)


def _run(config: Path, speed: float | None, new: bool) -> None:
    from cluster.adapters.feeds.paced import FeedError, desk_feed
    from cluster.cli.session import _check_credentials, _live
    from cluster.config.secrets import SecretError, state_key
    from cluster.desk.desk import DeskFiles, run_desk
    from cluster.storage.anchors import AuditKeyError, key_path, load_key
    from cluster.storage.store import open_store

    t0 = time.time()
    settings = settings_or_exit(config, desk__speed=speed)
    data_dir = Path(settings.runtime.data_dir)
    files = DeskFiles(data_dir, state_key(data_dir))
    try:
        load_key(key_path(settings), create=True)
        _check_credentials(settings)
        feed = desk_feed(settings)
    except (AuditKeyError, SecretError, FeedError) as exc:
        raise fail(str(exc)) from None
    settings = with_local_servers(settings)
    try:
        store = open_store(settings)
    except AuditKeyError as exc:
        raise fail(str(exc)) from None
    live = _live(settings)
    from actors.state import TamperedState
    from cluster.desk.desk import DeskError
    from cluster.desk.session import ResumeRefused

    try:
        from cluster.cli.serve import start_gateway

        result = run_desk(settings, files, feed, store, live, new=new, t0=t0,
                          on_ray=lambda desk_files: start_gateway(settings, desk_files))
    except (DeskError, ResumeRefused) as exc:
        raise fail(str(exc)) from None
    except TamperedState as exc:
        raise fail(f"{exc}. The run cannot resume from it: start a new run with `octet desk start --new`") from None
    except Exception as exc:  # the whole story goes to the desk's log, one line to the operator
        import traceback

        with open(os.open(files.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as log:
            log.write(traceback.format_exc())
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise fail(f"the desk failed: {type(exc).__name__}: {reason} (the traceback is in {files.log_path})", 1) \
            from None
    finally:
        live.close()
    console.print(f"desk {files.meta().get('state')}: run {result.run_id}, {result.ticks:,} ticks, "
                  f"{result.counts['orders']} orders, {result.counts['trades']} trades")


@desk.command()
def stop(config: ConfigOpt = Path("octet.yaml"),
         timeout: Annotated[float | None, typer.Option(min=0, help="Seconds to wait (desk.stop_timeout_seconds).")] = None
         ) -> None:
    """Stop the desk: no new saga, the one under way ends, everything saved; positions are kept."""
    settings = steering_settings(config)
    files = _files(config)
    pid = _running(files)
    if pid is None:
        meta = files.meta()
        raise fail(f"no desk is running (last state: {meta.get('state', 'never started')})", 1)
    began = time.time()
    os.kill(pid, signal.SIGTERM)
    limit = timeout or settings.desk.stop_timeout_seconds
    from cluster.desk.desk import pid_alive

    with console.status(f"stopping the desk (pid {pid}): the unit under way ends and is saved"):
        while pid_alive(pid):
            if time.time() - began > limit:
                raise fail(f"the desk (pid {pid}) has not stopped after {limit:.0f} s; see {files.log_path}", 1)
            time.sleep(0.05)
    meta = files.meta()
    state = meta.get("state")
    if state in ("stopped", "ended"):
        console.print(f"desk {state} in {time.time() - began:.1f} s (run {meta.get('run_id')}); "
                      "`octet desk start` resumes it")
    else:  # stopped before it had started, or it failed: the next start resumes from its checkpoint
        raise fail(f"the desk exited in state {state} ({meta.get('error') or 'while starting'}); "
                   f"`octet desk start` resumes its run; see {files.log_path}", 1)


@desk.command()
def status(config: ConfigOpt = Path("octet.yaml"),
           as_json: Annotated[bool, typer.Option("--json", help="The status as JSON.")] = False) -> None:
    """The desk: state, feed lag, counts, each account's balance, positions, headroom and breaker."""
    files = _files(config)
    meta, st = files.meta(), files.status()
    pid = files.driver()  # the driver's lock, not the pid file, says whether one runs
    state = str(meta.get("state", "never started"))
    if pid is None and state in ("starting", "running", "stopping"):
        state = "dead (its driver is gone: `octet desk start` resumes the run)"
    elif pid is not None and state not in ("starting", "running", "stopping"):
        state = "starting"
    meta["pid"] = pid or None
    if as_json:
        print(json.dumps({"state": state, "meta": meta, "status": st}, indent=1, default=str))
        return
    console.print(f"desk: [bold]{state}[/bold]  run {meta.get('run_id', '-')}  pid {meta.get('pid') or '-'}")
    if meta.get("gateway") and pid is not None:
        console.print(f"API: {meta['gateway']}/api/v1 (OpenAPI: {meta['gateway']}/docs)")
    elif meta.get("gateway_error"):
        console.print(f"[yellow]API gateway not running: {escape(str(meta['gateway_error']))}[/yellow]", soft_wrap=True)
    if not st:
        return
    age = time.time() - float(st.get("updated", 0))
    console.print(f"{st.get('ticks', 0):,} ticks · {st.get('batches', 0)} batches · {st.get('orders', 0)} orders · "
                  f"{st.get('trades', 0)} trades · feed lag {_ms(st.get('feed_lag_ms'), '-')} · system breaker "
                  f"{st.get('system_breaker')} · tick-to-order p99 {_ms(st.get('tick_to_order_p99_ms'), '- (no order yet)')} "
                  f"(status {age:.1f} s old)")
    units, stages = int(st.get("units") or 0), st.get("stages_s") or {}
    if units and stages:  # where a unit's time goes, the largest first
        console.print("per unit: " + " · ".join(f"{k} {v / units * 1000:.1f} ms" for k, v in list(stages.items())[:6]))
    model = st.get("model") or {}
    if model.get("model") or model.get("error"):  # which signals to trust (docs/learning.md)
        console.print(f"model {escape(str(model.get('model') or 'none'))} ({model.get('mode')}, skip below "
                      f"{model.get('skip_below')})" + (f" [yellow]{escape(str(model['error']))}[/yellow]"
                                                        if model.get("error") else ""), soft_wrap=True)
    if st.get("desk_halt"):
        console.print(f"[red]desk halted by {escape(str(st['desk_halt'][0]))}: {escape(str(st['desk_halt'][1]))}[/red]")
    held = [f"{name} {f.get('path')}" + (f" ({f['entries']:,} {'events' if name == 'news_calendar' else 'breaks'})"
                                         if isinstance(f.get("entries"), int) else "")
            + (f", {f['on_disk']} on disk since: `octet desk reload` reads it" if f.get("on_disk") else "")
            for name, f in (st.get("files") or {}).items()]
    if held:  # what the desk read (`octet desk reload` reads them again)
        console.print("files: " + " · ".join(escape(h) for h in held), soft_wrap=True)
    for text in st.get("warnings") or ():  # ahead of a firm's deadline (GET /alerts lists them to acknowledge)
        console.print(f"[yellow]alert: {escape(str(text))}[/yellow]", soft_wrap=True)
    for acc, a in (st.get("accounts") or {}).items():
        halt = f" [red]halted by {escape(str(a['operator_halt'][0]))}[/red]" if a.get("operator_halt") else ""
        idle = ""
        if a.get("idle_deadline_ns"):  # the firm closes the account if no trade is entered by then
            left = (int(a["idle_deadline_ns"]) - int(st.get("market_time_ns") or 0)) / 86_400e9
            by = _utc(int(a["idle_deadline_ns"]))
            idle = (f" · [red]no trade entered by {by}: past the firm's inactivity rule[/red]" if left <= 0 else
                    f" · {'[yellow]' if left < 2 else ''}enter a trade by {by} "
                    f"(the firm's inactivity rule: {left:.1f} days left){'[/yellow]' if left < 2 else ''}")
        room = "".join(f" · {what} {escape(str(a[key]))}" for key, what in (
            ("lots_room", "lots it may add today"), ("risk_room", "open-risk room")) if a.get(key) is not None)
        console.print(f"  {acc}: balance {a['balance']} equity {a['equity']} · {len(a['positions'])} open · "
                      f"daily headroom {a['daily_headroom']} · max-loss headroom {a['max_loss_headroom']}{room} · "
                      f"breaker {a['breaker']}{idle}{halt}")


TEXT_MAX = 500  # characters of a reason or a name: a request file is at most 64 KiB, and the audit keeps them


def _text(option: str, value: str | None) -> None:
    """A reason or a name is one line of printable text, at most ``TEXT_MAX`` characters (the desk reads no
    request over 64 KiB, and a line break would forge a line of the status and the audit's printouts)."""
    if value is None:
        return
    if len(value) > TEXT_MAX:
        raise fail(f"{option}: {len(value):,} characters; at most {TEXT_MAX}")
    if not value.isprintable():
        raise fail(f"{option}: a line break or another control character; give one line of text")


def _ms(value: object, none: str) -> str:
    """A latency of the status file: its milliseconds, or ``none`` when there is none yet."""
    return none if value is None else f"{value} ms"


def _control(config: Path, action: str, account: str, reason: str, who: str | None, wait: float = 30.0,
             reason_option: str = "--reason", **extra: str) -> None:
    _text(reason_option, reason)
    _text("--who", who)
    _text("--account", account)
    files = _files(config)
    if _running(files) is None:
        raise fail("no desk is running: start it with `octet desk start`", 1)
    login = getpass.getuser()
    asker = f"{who} ({login})" if who and who != login else login
    request_id = files.request(action, account, reason, asker, **extra)
    began = time.time()
    while (outcome := files.answer_of(request_id)) is None:
        if time.time() - began > wait:
            if files.withdraw(request_id):
                raise fail(f"the desk has not taken {action} after {wait:.0f} s: the request is withdrawn, "
                           "nothing was done", 1)
            if (outcome := files.answer_of(request_id)) is not None:
                break
            raise fail(f"the desk took {action} but has not answered after {wait:.0f} s: see "
                       "`octet desk status` and the audit trail", 1)
        time.sleep(0.05)
    if outcome.startswith("refused"):
        raise fail(outcome)
    console.print(f"{outcome} (asked by {asker}; in the audit trail)", markup=False)


def _account(account: str | None) -> str:
    """The account asked for, or "" for the whole desk when ``--account`` is left out. An empty one given is refused:
    a script's unset variable (``-a "$ACC"``) must not steer every account."""
    if account is None:
        return ""
    if not account.strip():
        raise fail("--account: empty; give an account id, or leave --account out for the whole desk")
    return account


@desk.command()
def halt(config: ConfigOpt = Path("octet.yaml"), account: AccountOpt = None, reason: ReasonOpt = "",
         who: WhoOpt = None) -> None:
    """Open no new saga for an account (or the whole desk) until resumed; positions stay."""
    _control(config, "halt", _account(account), reason, who)


@desk.command()
def resume(config: ConfigOpt = Path("octet.yaml"), account: AccountOpt = None, reason: ReasonOpt = "",
           who: WhoOpt = None) -> None:
    """Lift an operator's halt of an account (or of the desk)."""
    _control(config, "resume", _account(account), reason, who)


@desk.command()
def flatten(config: ConfigOpt = Path("octet.yaml"), account: AccountOpt = None, reason: ReasonOpt = "",
            who: WhoOpt = None) -> None:
    """Close every position and cancel working orders of an account (or of every account), at market: say why."""
    which = _account(account)
    if not reason.strip():
        raise fail("--reason: say why (flatten closes positions at market; the reason goes in the audit trail)")
    _control(config, "flatten", which, reason, who)


@desk.command()
def reload(config: ConfigOpt = Path("octet.yaml"), reason: ReasonOpt = "", who: WhoOpt = None) -> None:
    """Read the news calendar and the market closures again, with no restart (write them whole first). If either
    cannot be read, neither is taken, and the row is named."""
    _control(config, "reload", "", reason, who)


ALERT_ID = re.compile(r"(breaker|warning)-[1-9][0-9]{0,18}")  # as GET /alerts names them


def _desk_run(files: Any) -> str:
    run_id = files.meta().get("run_id")
    if not run_id:
        raise fail("no desk has run here: start one with `octet desk start`")
    return str(run_id)


@desk.command()
def alerts(config: ConfigOpt = Path("octet.yaml"),
           every: Annotated[bool, typer.Option("--all", help="Those acknowledged too, with who, when and the note.")]
           = False,
           limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 200) -> None:
    """The desk's alerts not yet acknowledged, oldest first: each breaker that opened and each alert ahead of a
    firm's deadline, in the desk's run (GET /alerts). `octet desk ack ID -r NOTE` acknowledges one."""
    from serve.queries import Reader

    files = _files(config)
    run_id = _desk_run(files)
    store = store_of(config, None, must_exist=True, steering=True)
    try:
        items, more = Reader(store.engine).alerts(run_id, not every, limit, None)
    finally:
        store.close()
    if not items:
        console.print(f"no alert {'' if every else 'to acknowledge '}in the desk's run {run_id}", markup=False)
        return
    for a in items:  # what was recorded, shown as text: a control character (a terminal's escape) as "?"
        due = f" (due {_utc(a['due_ns'])})" if a.get("due_ns") else ""
        where = _shown(", ".join(a["accounts"]) if a.get("accounts") else a["scope"])
        kind = f"{_shown(a['tier'])} breaker" if a["kind"] == "breaker" else "warning"
        acked = (f"\n    acknowledged by {_shown(a['acked_by'])} at {_utc(a['acked_ns'])}: {_shown(a.get('ack_note'))}"
                 if a.get("acked_by") else "")
        console.print(f"{a['alert_id']}  {_utc(a['ts_ns'])}  {kind}  {where}  {_shown(a['trigger'])}{due}\n    "
                      f"{_shown(a['action'])}" + acked, markup=False, soft_wrap=True, highlight=False)
    if more:
        console.print(f"more than {limit} stand: --limit shows more (GET /alerts pages through them all)", markup=False)


def _shown(text: object) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text or ""))


def _utc(ns: object) -> str:
    from trading.market import utc_text

    return utc_text(ns) if isinstance(ns, int) and ns > 0 else "-"


@desk.command()
def ack(alert: Annotated[str, typer.Argument(help="The alert's id, as `octet desk alerts` lists it: breaker-N or "
                                                 "warning-N.")],
        config: ConfigOpt = Path("octet.yaml"),
        note: Annotated[str, typer.Option("--note", "-r", help="What you saw or did (recorded in the audit trail).")]
        = "",
        who: WhoOpt = None) -> None:
    """Acknowledge an alert: the desk records it in the audit trail with who asked and the note; nothing of the
    desk changes. An alert acknowledged twice keeps its first acknowledgement."""
    from serve.queries import Reader

    if not ALERT_ID.fullmatch(alert):
        raise fail(f"{alert[:60]!r} is not an alert id: breaker-N or warning-N, as `octet desk alerts` lists them")
    if not note.strip():
        raise fail("--note: say what you saw or did (recorded in the audit trail)")
    _text("--note", note)
    _text("--who", who)
    files = _files(config)
    run_id = _desk_run(files)
    store = store_of(config, None, must_exist=True, steering=True)
    try:
        known = Reader(store.engine).alert_exists(alert, run_id)
    finally:
        store.close()
    if not known:
        raise fail(f"no alert {alert} in the desk's run {run_id}: `octet desk alerts` lists them")
    _control(config, "ack", "", note, who, reason_option="--note", alert=alert)
