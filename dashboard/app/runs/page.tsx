"use client";

import { useEffect, useState } from "react";
import { Guard, Problem } from "@/components/Guard";
import { Sparkline } from "@/components/Sparkline";
import { api, type Account, type EquityPoint, type Run } from "@/lib/api";
import { num, when } from "@/lib/format";

interface Detail extends Run {
  summary: Record<string, unknown> | null;
}

function Runs() {
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [details, setDetails] = useState<Record<string, { d: Detail; curves: Record<string, number[]> }>>({});
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<{ items: Run[] }>("/runs").then(
      (r) => {
        setRuns(r.items);
        setPicked(r.items.slice(0, 2).map((x) => x.run_id));
      },
      setError,
    );
  }, []);
  useEffect(() => {
    for (const id of picked) {
      if (details[id]) continue;
      void (async () => {
        try {
          const d = await api<Detail>(`/runs/${encodeURIComponent(id)}`);
          const acc = await api<{ items: Account[] }>(`/accounts?run=${encodeURIComponent(id)}`);
          const curves: Record<string, number[]> = {};
          for (const a of acc.items) {
            const e = await api<{ items: EquityPoint[] }>(
              `/accounts/${encodeURIComponent(a.account_id)}/equity?run=${encodeURIComponent(id)}&points=200`,
            );
            curves[a.account_id] = e.items.map((p) => Number(p.equity));
          }
          setDetails((x) => ({ ...x, [id]: { d, curves } }));
        } catch (e) {
          setError(e);
        }
      })();
    }
  }, [picked, details]);
  const toggle = (id: string) =>
    setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-4)));
  return (
    <>
      <h1>Runs</h1>
      <Problem error={error} />
      <div className="scroll" style={{ maxHeight: "35vh" }}>
        <table data-testid="runs">
          <caption className="sr-only">Sessions and backtests; tick up to four to compare</caption>
          <thead>
            <tr>
              <th scope="col">Compare</th>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Market start</th>
              <th scope="col" className="num">Ticks</th>
              <th scope="col" className="num">Wall s</th>
            </tr>
          </thead>
          <tbody>
            {(runs ?? []).map((r) => (
              <tr key={r.run_id}>
                <td>
                  <input type="checkbox" aria-label={`Compare ${r.run_id}`} checked={picked.includes(r.run_id)} onChange={() => toggle(r.run_id)} />
                </td>
                <td>{r.run_id}</td>
                <td>{r.status}</td>
                <td>{when(r.started_ns)}</td>
                {/* a run still going has its counts written when it ends: none to show yet (the Desk page has the live ones) */}
                <td className="num" title={r.status === "running" ? "counted when the run ends" : undefined}>
                  {r.status === "running" ? "–" : r.ticks}
                </td>
                <td className="num">{r.status === "running" ? "–" : r.elapsed_s.toFixed(1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="cards" style={{ marginTop: 12 }}>
        {picked.map((id) => {
          const x = details[id];
          const s = x?.d.summary ?? {};
          return (
            <article className="card" key={id} data-testid={`run-${id}`}>
              <h2>{id}</h2>
              {!x ? (
                <p role="status">Loading…</p>
              ) : (
                <>
                  <dl className="kv">
                    {Object.entries(s)
                      .filter(([, v]) => typeof v !== "object" || v === null)
                      .slice(0, 12)
                      .map(([k, v]) => (
                        <div key={k} style={{ display: "contents" }}>
                          <dt>{k}</dt>
                          <dd>{num(v)}</dd>
                        </div>
                      ))}
                  </dl>
                  {Object.entries(x.curves).map(([acc, values]) => (
                    <div key={acc}>
                      <span className="muted">{acc}</span>
                      <Sparkline values={values} label={`${acc} equity in ${id}`} />
                    </div>
                  ))}
                </>
              )}
            </article>
          );
        })}
      </div>
    </>
  );
}

export default function Page() {
  return <Guard>{() => <Runs />}</Guard>;
}
