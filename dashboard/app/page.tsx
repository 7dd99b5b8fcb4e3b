"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { AccountCard } from "@/components/AccountCard";
import { Alerts } from "@/components/Alerts";
import { Guard, Problem } from "@/components/Guard";
import { KillSwitch } from "@/components/KillSwitch";
import { api, ApiError, may, type Account, type EquityPoint, type Session } from "@/lib/api";
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
  const [accountsRun, setAccountsRun] = useState("");
  const [equity, setEquity] = useState<Record<string, number[]>>({});
  const [error, setError] = useState<unknown>(null);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      // the desk's state stands on its own: a store with no run yet answers /accounts with a 404, not an error here
      const none: { run_id: string; items: Account[] } = { run_id: "", items: [] };
      const [d, a] = await Promise.allSettled([
        api<Desk>("/desk"),
        api<{ run_id: string; items: Account[] }>("/accounts").catch((e: unknown) => {
          if (e instanceof ApiError && e.status === 404) return none;
          throw e;
        }),
      ]);
      if (d.status === "fulfilled") setDesk(d.value);
      if (d.status === "rejected") throw d.reason;
      if (a.status === "rejected") throw a.reason;
      setAccounts(a.value.items);
      setAccountsRun(a.value.run_id);
      setError(null);
      const curves = await Promise.all(
        a.value.items.map((x) =>
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
  // accounts an operator halted one by one (`octet desk halt --account`): the desk's resume does not lift these
  const halts = (st.accounts ?? {}) as Record<string, { operator_halt?: [string, string] | null }>;
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
      ) : accounts.length === 0 && accountsRun ? (
        <p className="muted" role="status" data-testid="no-accounts">
          Run {accountsRun} has recorded no account yet: its accounts show once it writes their first equity.
        </p>
      ) : accounts.length === 0 ? (
        <p className="muted" role="status" data-testid="no-accounts">
          No run is recorded on this gateway's data yet: the accounts show once a desk (`octet desk start`) or a run has
          written some.
        </p>
      ) : (
        <div className="cards" style={{ marginTop: 12 }}>
          {accounts.map((a) => (
            <AccountCard
              key={a.account_id}
              a={a}
              equity={equity[a.account_id] ?? []}
              halt={desk?.running ? (halts[a.account_id]?.operator_halt ?? null) : null}
            />
          ))}
        </div>
      )}
    </>
  );
}

export default function Page() {
  return <Guard>{(s) => <DeskView s={s} />}</Guard>;
}
