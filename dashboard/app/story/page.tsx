"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { Guard, Problem } from "@/components/Guard";
import { api, query, type AuditRecord } from "@/lib/api";
import { num, when } from "@/lib/format";

function Numbers({ v }: { v: unknown }) {
  if (!v || typeof v !== "object") return null;
  const entries = Object.entries(v as Record<string, unknown>);
  if (!entries.length) return null;
  return (
    <dl className="kv">
      {entries.map(([k, x]) => (
        <div key={k} style={{ display: "contents" }}>
          <dt>{k}</dt>
          <dd>{num(x)}</dd>
        </div>
      ))}
    </dl>
  );
}

function Record({ r }: { r: AuditRecord }) {
  const p = r.payload;
  if (r.kind === "decision") {
    const outcome = String(p.outcome ?? "");
    return (
      <li className={outcome === "veto" || outcome === "rejected" ? "rejected" : "approved"} data-testid="saga-step">
        <b data-testid="step-name">{String(p.step ?? "step")}</b>{" "}
        <span className={`pill ${outcome === "veto" ? "bad" : "good"}`} data-testid="step-verdict">
          {outcome}
        </span>{" "}
        <span className="muted">{String(p.rule ?? "")}</span>
        <div>{String(p.reason ?? "")}</div>
        <Numbers v={p.numbers} />
      </li>
    );
  }
  if (r.kind === "signal") {
    return (
      <li data-testid="story-signal">
        <b>Signal</b> {String(p.setup ?? "")} {String(p.side ?? "")} {String(p.symbol ?? "")} · entry {String(p.entry ?? "")} · stop{" "}
        {String(p.stop ?? "")} · targets {Array.isArray(p.targets) ? p.targets.join(", ") : "–"} · confidence {num(p.confidence)}
        {Array.isArray(p.evidence) && (
          <ul>
            {(p.evidence as Record<string, unknown>[]).map((e, i) => (
              <li key={i}>
                <b>{String(e.event ?? e.kind ?? "evidence")}</b> {e.bar_ts_ns ? when(Number(e.bar_ts_ns)) : ""}{" "}
                <span className="muted">
                  {Object.entries(e)
                    .filter(([k]) => !["event", "kind", "bar_ts_ns"].includes(k))
                    .map(([k, x]) => `${k} ${num(x)}`)
                    .join(" · ")}
                </span>
              </li>
            ))}
          </ul>
        )}
      </li>
    );
  }
  const line =
    r.kind === "order"
      ? `${p.side} ${p.lots} ${p.symbol} ${p.order_type} at ${p.reference_price}, stop ${p.stop_loss}, target ${p.take_profit ?? "–"}`
      : r.kind === "report"
        ? `${p.status}${p.reason ? ` (${p.reason})` : ""}`
        : r.kind === "trade"
          ? `closed ${p.side} ${p.lots} ${p.symbol}: ${p.entry} → ${p.exit}, P/L ${p.pnl} (${p.reason})`
          : "";
  return (
    <li data-testid={`story-${r.kind}`}>
      <b>{r.kind}</b> <span className="muted">{when(r.ts_ns)}</span> {line}
      <details>
        <summary className="muted">every field</summary>
        <Numbers v={Object.fromEntries(Object.entries(p).filter(([, x]) => typeof x !== "object" || x === null))} />
      </details>
    </li>
  );
}

function Story() {
  const [order, setOrder] = useState<string | null>(null);
  const [items, setItems] = useState<AuditRecord[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const o = params.get("order");
    const run = params.get("run"); // none: the latest run that placed the order
    setOrder(o);
    if (o)
      api<{ items: AuditRecord[] }>(`/orders/${encodeURIComponent(o)}/story${query({ run })}`).then(
        (r) => setItems(r.items),
        (e) => setError(e),
      );
  }, []);
  if (!order)
    return (
      <p>
        No order named: open one from the <Link href="/blotter/">blotter</Link>.
      </p>
    );
  const steps = (items ?? []).filter((r) => r.kind === "decision");
  const rest = (items ?? []).filter((r) => r.kind !== "decision");
  return (
    <>
      <h1>
        Order <code>{order}</code>
      </h1>
      {items && items.length > 0 && (
        <p className="muted" data-testid="story-run">
          in run <code>{items[0].run_id}</code>
        </p>
      )}
      <Problem error={error} />
      {items === null && !error && <p role="status">Loading its story…</p>}
      {items && (
        <>
          <h2>Signal</h2>
          <ol className="steps">
            {rest.filter((r) => r.kind === "signal").map((r) => (
              <Record key={r.seq} r={r} />
            ))}
          </ol>
          <h2>The saga's steps ({steps.length})</h2>
          <ol className="steps" data-testid="saga-steps">
            {steps.map((r) => (
              <Record key={r.seq} r={r} />
            ))}
          </ol>
          <h2>Execution</h2>
          <ol className="steps">
            {rest.filter((r) => r.kind !== "signal").map((r) => (
              <Record key={r.seq} r={r} />
            ))}
          </ol>
          <p className="muted">Each record is one link of the audit chain (seq {items[0]?.seq}–{items[items.length - 1]?.seq}).</p>
        </>
      )}
    </>
  );
}

export default function Page() {
  return <Guard>{() => <Story />}</Guard>;
}
