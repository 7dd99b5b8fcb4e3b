"use client";

import { useCallback, useEffect, useState } from "react";
import { AskDialog, problemText, useAsk } from "@/components/AskDialog";
import { api, may, query, type Alert, type Page, type Session } from "@/lib/api";
import { when } from "@/lib/format";

const SHOWN = 200; // the first page: more than that standing is said, not listed

const TRIGGER: Record<string, string> = {
  inactivity: "inactivity rule",
  news_calendar: "news calendar",
  market_closures: "market closures",
};

/** The desk's alerts not yet acknowledged (GET /alerts?unacked=true): each breaker that opened and each alert
 * ahead of a firm's deadline, oldest first. A trader or an admin acknowledges one with a note, recorded in the
 * audit trail with their name; a viewer only reads them. */
export function Alerts({ s, run, running }: { s: Session; run: string | null; running: boolean }) {
  const [page, setPage] = useState<Page<Alert> | null>(null);
  const [error, setError] = useState<string>("");
  const [chosen, setChosen] = useState<Alert | null>(null);
  const ask = useAsk();
  const mayAck = may(s, "trader");

  const load = useCallback(async () => {
    if (!run) return; // no desk has run on this gateway's data: nothing to list
    try {
      setPage(await api<Page<Alert>>(`/alerts${query({ run, unacked: "true", limit: SHOWN })}`));
      setError("");
    } catch (e) {
      setError(problemText(e));
    }
  }, [run]);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), 5000);
    return () => clearInterval(t);
  }, [load]);

  const choose = (a: Alert) => {
    setChosen(a);
    ask.open();
  };
  const confirm = () => (chosen ? ask.send(`/alerts/${encodeURIComponent(chosen.alert_id)}/ack`, "note", load) : undefined);

  const items = page?.items ?? [];
  // nothing stands: no panel (kept while its dialog is open: someone else's acknowledgement must not drop a note typed)
  if (!run || (!error && !ask.result && items.length === 0 && !ask.dialog.current?.open)) return null;
  return (
    <section className="card" aria-labelledby="alerts-title" data-testid="alerts" style={{ marginTop: 12 }}>
      <h2 id="alerts-title">
        Alerts to acknowledge{page ? ` (${items.length}${page.next_cursor ? "+" : ""})` : ""}
      </h2>
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      {ask.result && (
        <p role="status" data-testid="ack-result">
          {ask.result}
        </p>
      )}
      {items.length > 0 && (
        <div className="scroll">
          <table>
            <caption className="muted" style={{ textAlign: "left" }}>
              oldest first, in the desk&apos;s run {page?.run_id}; acknowledging one records who saw it and the note, and changes
              nothing of the desk
            </caption>
            <thead>
              <tr>
                <th scope="col">raised (market time)</th>
                <th scope="col">kind</th>
                <th scope="col">where</th>
                <th scope="col">what</th>
                <th scope="col">what to do</th>
                <th scope="col">due</th>
                {mayAck && <th scope="col">acknowledge</th>}
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.alert_id} data-testid="alert-row" data-alert={a.alert_id}>
                  <td>{when(a.ts_ns)}</td>
                  <td>
                    <span className={`pill ${a.kind === "breaker" ? "bad" : "warn"}`}>
                      {a.kind === "breaker" ? `${a.tier} breaker` : "warning"}
                    </span>
                  </td>
                  <td>{a.accounts && a.accounts.length ? a.accounts.join(", ") : a.scope}</td>
                  <td>{TRIGGER[a.trigger] ?? a.trigger}</td>
                  <td style={{ whiteSpace: "normal", minWidth: "24ch" }}>{a.action}</td>
                  <td>{a.due_ns ? when(a.due_ns) : "–"}</td>
                  {mayAck && (
                    <td>
                      <button type="button" disabled={!running} onClick={() => choose(a)}
                              aria-label={`Acknowledge ${a.alert_id}`}
                              title={running ? undefined : "no desk is running to record it"}>
                        Acknowledge
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page?.next_cursor && (
        <p className="muted">
          More than {SHOWN} stand: GET /api/v1/alerts?unacked=true lists them all, a page at a time.
        </p>
      )}
      <AskDialog
        ask={ask}
        title={`Acknowledge ${chosen?.alert_id ?? ""}?`}
        label="What you saw or did (recorded with your name)"
        yes="Yes, acknowledge"
        onConfirm={() => void confirm()}
      >
        <p>{chosen ? `${TRIGGER[chosen.trigger] ?? chosen.trigger}: ${chosen.action}` : ""}</p>
        <p className="muted">It is recorded in the audit trail with your name and the note; nothing of the desk changes.</p>
      </AskDialog>
    </section>
  );
}
