"use client";

import { useRef, useState } from "react";
import { AskDialog, oneLine } from "@/components/AskDialog";
import { api, ApiError } from "@/lib/api";

const EFFECT: Record<string, string> = {
  halt: "No new trade opens on any account until resumed, and rust_exec refuses every new order. Open positions keep their stops.",
  flatten: "Every open position is closed at market and every working order cancelled, on every account, now.",
  resume: "The operator's halt is lifted: the desk may open new trades again.",
};

interface Answer {
  request_id: string;
  outcome: string | null;
}

/** The desk's kill switch (admins only): each action behind a confirmation naming its effect. */
export function KillSwitch({ running, onDone }: { running: boolean; onDone: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [action, setAction] = useState<string>("halt");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string>("");
  const ask = (a: string) => {
    setAction(a);
    setReason("");
    setResult("");
    dialog.current?.showModal();
  };
  const confirm = async () => {
    setBusy(true);
    try {
      const r = await api<Answer>(`/desk/${action}`, { reason: oneLine(reason), wait_seconds: 10 });
      setResult(r.outcome ?? `asked (request ${r.request_id}); the desk has not answered yet`);
      dialog.current?.close();
      onDone();
    } catch (e) {
      setResult(e instanceof ApiError ? `${e.title}: ${e.detail}` : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="kill-title" data-testid="kill-switch">
      <h2 id="kill-title">Kill switch</h2>
      {!running && <p className="muted">No desk is running on this gateway's data: nothing to halt (`octet desk start`).</p>}
      <div className="bar">
        <button type="button" className="danger" disabled={!running} onClick={() => ask("halt")}>
          Halt the desk
        </button>
        <button type="button" className="danger" disabled={!running} onClick={() => ask("flatten")}>
          Flatten everything
        </button>
        <button type="button" disabled={!running} onClick={() => ask("resume")}>
          Resume
        </button>
      </div>
      {result && (
        <p role="status" data-testid="kill-result">
          {result}
        </p>
      )}
      <AskDialog
        dialog={dialog}
        title={action === "resume" ? "Resume the desk?" : action === "halt" ? "Halt the desk?" : "Flatten every account?"}
        label="Why (recorded in the audit trail with your name)"
        text={reason}
        setText={setReason}
        busy={busy}
        yes={`Yes, ${action}`}
        danger={action !== "resume"}
        onConfirm={() => void confirm()}
      >
        <p>{EFFECT[action]}</p>
      </AskDialog>
    </section>
  );
}
