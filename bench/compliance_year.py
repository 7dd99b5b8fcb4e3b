"""A simulated year of the demo desk with one account on every firm preset.

The replay generator writes a year of EURUSD, GBPUSD and USDJPY (4 ticks a minute per instrument
by default, weekends closed); the whole desk trades it on a local Ray with rust_exec, one 100k
account per preset phase (FTMO 2-Step and 1-Step, The5ers, FundedNext Stellar and Futures,
TopstepX), all of one owner (a trader running accounts at several firms). The report counts
account-days, orders, vetoes by rule, the minimum headroom each account reached, hard-rule
breaches by rule and each account's first (the bar is zero for the loss and holding rules; an
`inactivity` breach is an account the strategy, or a conduct veto such as copy trading, left without
a trade for its firm's days) and soft ones, and how fast the system breaker's halts reached
rust_exec; then it times the operator's kill switch (Halt with flatten over gRPC) directly.
Writes bench/results/compliance_year.json. It never fails on a time.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from cluster.adapters.feeds.replay import generate_ticks  # noqa: E402
from cluster.config.settings import load_settings  # noqa: E402
from cluster.desk.session import Session  # noqa: E402
from cluster.desk.topology import init_ray  # noqa: E402
from trading.presets import preset_names  # noqa: E402

DAY_NS = 86_400 * 10**9


def year_settings(days: int, per_minute: float, out: Path):  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((ROOT / "octet.yaml").read_text())
    for inst in doc["instruments"]:
        inst["generator"]["ticks_per_minute"] = per_minute
    doc["accounts"] = [
        {"id": name.replace(".", "-"), "owner": "desk", "firm": name, "balance": "100000",
         "profile": "default", "risk": {"risk_per_trade_pct": "0.5"}} for name in preset_names()
    ]
    ticks = int(days * 5 / 7 * 24 * 60 * per_minute * len(doc["instruments"]))
    doc["session"]["ticks"] = ticks
    doc["runtime"]["data_dir"] = str(out)
    path = out / "year.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_settings(path)


def _utc(text: str) -> str:
    """A breach's text with its nanosecond instants as UTC times."""
    return re.sub(r"\b\d{19}\b", lambda m: datetime.fromtimestamp(int(m.group()) / 1e9, UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"), text)


def kill_switch_latency(address: str, creds, registry, n: int = 200) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Halt with flatten, then resume, n times: the operator's kill switch round trip."""
    from cluster.adapters.rust_exec.client import GrpcExecutionClient

    client = GrpcExecutionClient(address, registry, credentials=creds)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        client.halt("bench kill switch", cancel_working=True, flatten=True)
        samples.append((time.perf_counter() - t) * 1000)
        client.resume()
    client.close()
    return {"p50_ms": round(percentile(samples, 0.5), 3), "p99_ms": round(percentile(samples, 0.99), 3),
            "max_ms": round(max(samples), 3)}


def main() -> None:
    days = int(os.environ.get("BENCH_DAYS", "365"))
    per_minute = float(os.environ.get("BENCH_TICKS_PER_MINUTE", "4"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = year_settings(days, per_minute, Path(tmp))
        s = settings.session
        t = time.perf_counter()
        ticks, _ = generate_ticks(settings.registry(), settings.generator_profiles(), s.ticks, s.seed, s.start)
        print(f"{len(ticks):,} ticks over {(int(ticks.ts[-1]) - int(ticks.ts[0])) / DAY_NS:.0f} days, "
              f"{len(settings.accounts)} accounts (generated in {time.perf_counter() - t:.0f} s)")
        init_ray(settings)
        last = [0.0]
        stamps: list[float] = []
        transitions: Counter[str] = Counter()  # breaker transitions, folded from each batch's record
        odds: dict[str, dict[str, dict[str, float | None]]] = {}  # account -> month -> first odds seen in it
        halved: Counter[str] = Counter()
        by_account: dict[str, Counter[str]] = {}  # account -> its vetoes by rule
        first: Counter[str] = Counter()  # account -> orders it took as judged first for the inactivity rule
        alerts: list[tuple[int, dict]] = []  # the desk's alerts ahead of a firm's deadline (audit "warning")

        def progress(p, _topo) -> None:  # type: ignore[no-untyped-def]
            stamps.append(p.elapsed_s)
            transitions.update(f"{e.tier.value}:{e.to_state.value}" for e in p.record.breaker_events)
            halved.update(e.scope for e in p.record.breaker_events if e.action == "halve risk")
            alerts.extend((ts, dict(note)) for kind, ts, note in p.record.notes if kind == "warning")
            for d in p.record.decisions:
                if d.outcome == "veto":
                    by_account.setdefault(d.account_id, Counter())[f"{d.step}:{d.rule}"] += 1
                elif d.step == "compliance" and "inactivity: judged before" in d.reason:
                    first[d.account_id] += 1
            for h in p.record.headroom:  # the pass-odds monitor's answer, sampled once a month
                if h.hard_breach_probability is None:
                    continue
                month = datetime.fromtimestamp(h.ts_ns / 1e9, UTC).strftime("%Y-%m")
                odds.setdefault(h.account_id, {}).setdefault(month, {
                    "pass": None if h.pass_probability is None else round(h.pass_probability, 3),
                    "hard_breach": round(h.hard_breach_probability, 3),
                    "best_risk_pct": h.pass_risk_pct})
            if time.perf_counter() - last[0] > 15:
                last[0] = time.perf_counter()
                print(f"  batch {p.batch}/{p.batches}: {p.ticks:,} ticks, {p.signals} signals, {p.orders} orders, "
                      f"{p.elapsed_s:.0f} s", flush=True)

        session = Session(settings, run_id="year", on_batch=progress)
        result = session.run(ticks)
        from cluster.adapters.rust_exec.process import ExecService

        with ExecService.for_settings(settings, Path(tmp) / "kill") as svc:
            kill = kill_switch_latency(svc.address, svc.credentials("operator"), settings.registry())
    span_days = (int(ticks.ts[-1]) - int(ticks.ts[0])) / DAY_NS
    breaches = {a: len(c["breaches"]) for a, c in result.compliance.items()}
    vetoes = result.vetoes_by_rule
    report = {
        "benchmark": "compliance_year",
        "days": round(span_days, 1),
        "ticks": len(ticks),
        "accounts": len(settings.accounts),
        "account_days": round(span_days * len(settings.accounts)),
        "signals": result.counts["signals"],
        "orders": result.counts["orders"],
        "trades": result.counts["trades"],
        "vetoes_by_rule": dict(sorted(vetoes.items())),
        "vetoes_by_account": {a: dict(sorted(c.items())) for a, c in sorted(by_account.items())},
        # orders an account took because, half its firm's idle days gone, it was judged before the others
        "taken_as_idle_first": dict(sorted(first.items())),
        "trading_days_by_account": {a: c.get("objectives", {}).get("trading_days")
                                    for a, c in sorted(result.compliance.items())},
        "min_headroom_by_account": {
            a: {"daily": None if c["min_daily_headroom"] is None else float(c["min_daily_headroom"]),  # None: no daily rule
                "max_loss": float(c["min_max_loss_headroom"] or 0)}
            for a, c in sorted(result.compliance.items())},
        "hard_rule_breaches": sum(breaches.values()),
        "hard_rule_breaches_by_account": breaches,
        # which rules, and each account's first breach with its instants in UTC
        "hard_rule_breaches_by_rule": dict(sorted(Counter(b.split(" at ")[0] for c in result.compliance.values()
                                                          for b in c["breaches"]).items())),
        "first_breach_by_account": {a: _utc(c["breaches"][0]) for a, c in sorted(result.compliance.items())
                                    if c["breaches"]},
        "soft_breaches": {a: len(c["soft_breaches"]) for a, c in result.compliance.items()},
        # the alerts the desk raised ahead of a firm's deadline, and for each inactivity breach the alert raised
        # for its deadline: when, and how many days before the breach (None: none was raised)
        "deadline_alerts_by_rule": dict(sorted(Counter(str(w["rule"]) for _, w in alerts).items())),
        "deadline_alerts_news_calendar": [{"raised": _utc(str(ts)), "due": _utc(str(w["due_ns"])),
                                           "accounts": w["accounts"]} for ts, w in alerts if w["rule"] == "news_calendar"],
        "inactivity_breaches_alerted": [_alerted(a, b, alerts) for a, c in sorted(result.compliance.items())
                                        for b in c["breaches"] if b.startswith("inactivity at ")],
        "objectives": {a: c.get("objectives", {}) for a, c in sorted(result.compliance.items())},
        # the pass-odds monitor: its last answer per account, and the first answer of each month
        "pass_odds_last": {a: c.get("pass_odds", {}) for a, c in sorted(result.compliance.items())},
        "pass_odds_by_month": {a: odds.get(a, {}) for a in sorted(result.compliance)},
        "breaker_risk_halved": dict(sorted(halved.items())),  # account -> times its risk was halved on breach odds
        "breaker_events": transitions,
        "system_halt_latency_ms": sorted(round(x, 2) for x in result.halt_latency_ms),
        "system_halt_rpc_ms": sorted(round(x, 2) for x in result.halt_rpc_ms),
        "kill_switch_halt_flatten_ms": kill,
        "elapsed_s": round(result.elapsed_s, 1),
        # does the desk slow down as its history grows? batches per second in the first and last tenth
        "batches_per_s_first_tenth": _rate(stamps[: len(stamps) // 10]),
        "batches_per_s_last_tenth": _rate(stamps[-(len(stamps) // 10):]),
        "agent_state_bytes_per_call": {s["name"]: round(s["state_bytes_written"] / max(s["calls"], 1))
                                       for s in result.agent_stats},
        "machine": machine(),
    }
    print(f"{report['account_days']:,} account-days, {report['orders']:,} orders, {report['trades']:,} trades, "
          f"hard-rule breaches: {report['hard_rule_breaches']}")
    for row in report["inactivity_breaches_alerted"]:
        print(f"  {row['account']}: {row['breach']} (alerted {row['alert_raised'] or 'never'}, "
              f"{row['lead_days']} days ahead)")
    print("vetoes: " + ", ".join(f"{k} {v}" for k, v in report["vetoes_by_rule"].items()))
    for a, h in report["min_headroom_by_account"].items():
        daily = "no daily rule" if h["daily"] is None else f"{h['daily']:,.2f}"
        print(f"  {a:28s} min daily headroom {daily:>13}   min max-loss headroom {h['max_loss']:>10,.2f}")
    print(f"kill switch (halt + flatten) over gRPC: p50 {kill['p50_ms']} ms, p99 {kill['p99_ms']} ms; "
          f"system breaker halts (review start -> halted): {report['system_halt_latency_ms']} ms, "
          f"of which the Halt call: {report['system_halt_rpc_ms']} ms")
    out = ROOT / "bench" / "results" / "compliance_year.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"batches/s: first tenth {report['batches_per_s_first_tenth']}, last tenth "
          f"{report['batches_per_s_last_tenth']}")
    print(f"written to {out.relative_to(ROOT)} in {report['elapsed_s']} s of session")


def _alerted(account: str, breach: str, alerts: list[tuple[int, dict]]) -> dict[str, object]:
    """An inactivity breach and the alert raised for its deadline (the breach's instant), with its lead in days."""
    at = int(breach.removeprefix("inactivity at ").split(":")[0])
    raised = next((ts for ts, w in alerts if w["rule"] == "inactivity" and w["account_id"] == account
                   and w["due_ns"] == at), None)
    return {"account": account, "breach": _utc(breach), "alert_raised": None if raised is None else _utc(str(raised)),
            "lead_days": None if raised is None else round((at - raised) / DAY_NS, 2)}


def _rate(stamps: list[float]) -> float:
    return round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 2) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0


if __name__ == "__main__":
    main()
