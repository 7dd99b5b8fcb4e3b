"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { AccountCard } from "@/components/AccountCard";
import { Alerts } from "@/components/Alerts";
import { Guard, Problem } from "@/components/Guard";
import { KillSwitch } from "@/components/KillSwitch";
import { api, may, type Account, type EquityPoint, type Session } from "@/lib/api";
import { when } from "@/lib/format";
import { useStream } from "@/lib/stream";

interface Desk {
  running: boolean;
  state: string | null;
  run_id: string | null;
  phase: string | null;
  status: Record<string, unknown>;
}

function DeskView({ s }: { s: Session }) {
  const [desk, setDesk] = useState<Desk | null>(null);
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [equity, setEquity] = useState<Record<string, number[]>>({});
  const [error, setError] = useState<unknown>(null);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      const [d, a] = await Promise.all([api<Desk>("/desk"), api<{ run_id: string; items: Account[] }>("/accounts")]);
      setDesk(d);
      setAccounts(a.items);
      setError(null);
      const curves = await Promise.all(
        a.items.map((x) =>
          api<{ items: EquityPoint[] }>(`/accounts/${encodeURIComponent(x.account_id)}/equity?points=120`).then(
            (e) => [x.account_id, e.items.map((p) => Number(p.equity))] as const,
            () => [x.account_id, [] as number[]] as const,
          ),
        ),
      );
      setEquity(Object.fromEntries(curves));
    } catch (e) {
      setError(e);
    }
  }, []);
  // at most one reload a second however many messages come
  const soon = useCallback(() => {
    if (!pending.current) pending.current = setTimeout(() => ((pending.current = null), void load()), 1000);
  }, [load]);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), 5000);
    return () => clearInterval(t);
  }, [load]);
  const live = useStream(["fills", "trades", "headroom", "breaker", "desk"], soon, soon);

  const st = desk?.status ?? {};
  const halt = st.desk_halt as [string, string] | null | undefined;
  const lag = st.feed_lag_ms as number | undefined;
  // alerts ahead of a firm's deadline that stand: an inactivity deadline, the news calendar's end (GET /alerts)
  const warnings = Array.isArray(st.warnings) ? (st.warnings as unknown[]).map(String) : [];
  return (
    <>
      <div className="bar">
        <h1 style={{ margin: 0 }}>Desk</h1>
        <span className={`pill ${desk?.running ? "good" : "warn"}`} data-testid="desk-state">
          {desk ? (desk.running ? `running${desk.phase && desk.phase !== "running" ? ` · ${desk.phase}` : ""}` : desk.state ? `not running (${desk.state})` : "no desk running") : "…"}
        </span>
        {halt && (
          <span className="pill bad" data-testid="desk-halted" role="status">
            halted by {halt[0]}: {halt[1]}
          </span>
        )}
        {st.system_breaker === "open" && <span className="pill bad">system breaker open</span>}
        {st.venue_halted === true && (
          <span className="pill bad" data-testid="venue-halted">
            rust_exec halted
          </span>
        )}
        <span className="muted">run {desk?.run_id ?? "–"}</span>
        <span className="muted">market time {when(st.market_time_ns as number | undefined)}</span>
        <span className="muted" data-testid="feed-lag" title="how far the desk's clock is behind its feed, in market time">
          feed lag {lag === undefined ? "–" : lag >= 1000 ? `${(lag / 1000).toFixed(1)} s` : `${lag} ms`}
        </span>
        <span className={`pill ${live.state === "live" ? "good" : "warn"}`} title={live.detail}>
          {live.state === "retrying" && live.detail ? `stream: ${live.detail}` : `stream ${live.state}`}
        </span>
      </div>
      <Problem error={error} />
      {warnings.length > 0 && (
        <ul className="alerts" data-testid="desk-alerts" aria-label="alerts ahead of a firm's deadline">
          {warnings.map((w) => (
            <li key={w} className="warn" role="status">
              {w}
            </li>
          ))}
        </ul>
      )}
      <Alerts s={s} run={desk?.run_id ?? null} running={!!desk?.running} />
      {may(s, "admin") && <KillSwitch running={!!desk?.running} onDone={() => void load()} />}
      {accounts === null ? (
        <p className="muted" role="status">
          Loading the accounts…
        </p>
      ) : (
        <div className="cards" style={{ marginTop: 12 }}>
          {accounts.map((a) => (
            <AccountCard key={a.account_id} a={a} equity={equity[a.account_id] ?? []} />
          ))}
        </div>
      )}
    </>
  );
}

export default function Page() {
  return <Guard>{(s) => <DeskView s={s} />}</Guard>;
}
