"use client";

import { useCallback, useEffect, useState } from "react";
import { Guard, Problem } from "@/components/Guard";
import { api, type Account, type Breaker } from "@/lib/api";
import { when } from "@/lib/format";

interface Agent {
  name: string;
  calls: number;
  busy_s: number;
  methods: Record<string, number[]>;
  pid: number | null;
  restarts: number;
  heartbeat_at: number | null;
  heartbeat_ok: boolean | null;
  missed_heartbeats: number;
}

function Agents() {
  const [agents, setAgents] = useState<{ run_id: string | null; ignored: string[]; items: Agent[]; ray_dashboard?: string | null } | null>(null);
  const [breakers, setBreakers] = useState<Breaker[]>([]);
  const [ray, setRay] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    try {
      const [a, acc] = await Promise.all([
        api<{ run_id: string | null; ignored: string[]; items: Agent[]; ray_dashboard?: string | null }>("/agents"),
        api<{ items: Account[] }>("/accounts").catch(() => ({ items: [] as Account[] })),
      ]);
      setAgents(a);
      const seen = new Map<string, Breaker>();
      for (const x of acc.items) for (const b of x.breakers) if (b.tier === "agent") seen.set(b.scope, b);
      setBreakers([...seen.values()]);
      setRay(a.ray_dashboard && /^https?:\/\//.test(a.ray_dashboard) ? a.ray_dashboard : null);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
  }, [load]);
  return (
    <>
      <div className="bar">
        <h1 style={{ margin: 0 }}>Agents</h1>
        <span className="muted">run {agents?.run_id ?? "–"}</span>
        {ray ? (
          <a href={ray} target="_blank" rel="noreferrer noopener">
            Ray dashboard
          </a>
        ) : (
          <span className="muted">Ray dashboard: not configured (gateway.ray_dashboard_url; a local session runs Ray without one)</span>
        )}
      </div>
      <Problem error={error} />
      <div className="scroll">
        <table data-testid="agents">
          <caption className="sr-only">Each agent's health</caption>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Health</th>
              <th scope="col" className="num">Calls</th>
              <th scope="col" className="num">Mean ms</th>
              <th scope="col" className="num">Busy s</th>
              <th scope="col" className="num">Restarts</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Agent breaker</th>
            </tr>
          </thead>
          <tbody>
            {(agents?.items ?? []).map((a) => {
              const ignored = agents?.ignored.includes(a.name);
              const b = breakers.find((x) => x.scope === a.name);
              const mean = a.calls ? (a.busy_s * 1000) / a.calls : 0;
              const ok = a.heartbeat_ok !== false && !ignored;
              return (
                <tr key={a.name}>
                  <td>{a.name}</td>
                  <td>
                    <span className={`pill ${ok ? "good" : "bad"}`}>{ignored ? "ignored" : ok ? "ok" : `missed ${a.missed_heartbeats}`}</span>
                  </td>
                  <td className="num">{a.calls}</td>
                  <td className="num">{mean.toFixed(2)}</td>
                  <td className="num">{a.busy_s.toFixed(2)}</td>
                  <td className="num">{a.restarts}</td>
                  <td>{a.heartbeat_at ? when(a.heartbeat_at * 1e9) : "–"}</td>
                  <td>{b ? `${b.to_state} (${b.trigger})` : "closed"}</td>
                </tr>
              );
            })}
            {agents && agents.items.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No desk is running: agents report while one is.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

export default function Page() {
  return <Guard>{() => <Agents />}</Guard>;
}
