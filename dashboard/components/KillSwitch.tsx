"use client";

import { useState } from "react";
import { AskDialog, useAsk } from "@/components/AskDialog";

const EFFECT: Record<string, string> = {
  halt: "No new trade opens on any account until resumed, and rust_exec refuses every new order. Open positions keep their stops.",
  flatten: "Every open position is closed at market and every working order cancelled, on every account, now.",
  resume:
    "The operator's halt of the whole desk is lifted: the desk may open new trades again. An account halted on its own stays halted (its card says so): octet desk resume --account ID lifts it.",
};

/** The desk's kill switch (admins only): each action behind a confirmation naming its effect. */
export function KillSwitch({ running, onDone }: { running: boolean; onDone: () => void }) {
  const [action, setAction] = useState<string>("halt");
  const ask = useAsk();
  const choose = (a: string) => {
    setAction(a);
    ask.open();
  };
  const confirm = () => ask.send(`/desk/${action}`, "reason", onDone);
  return (
    <section className="card" aria-labelledby="kill-title" data-testid="kill-switch">
      <h2 id="kill-title">Kill switch</h2>
      {!running && <p className="muted">No desk is running on this gateway's data: nothing to halt (`octet desk start`).</p>}
      <div className="bar">
        <button type="button" className="danger" disabled={!running} onClick={() => choose("halt")}>
          Halt the desk
        </button>
        <button type="button" className="danger" disabled={!running} onClick={() => choose("flatten")}>
          Flatten everything
        </button>
        <button type="button" disabled={!running} onClick={() => choose("resume")}>
          Resume
        </button>
      </div>
      {ask.result && (
        <p role="status" data-testid="kill-result">
          {ask.result}
        </p>
      )}
      <AskDialog
        ask={ask}
        title={action === "resume" ? "Resume the desk?" : action === "halt" ? "Halt the desk?" : "Flatten every account?"}
        label="Why (recorded in the audit trail with your name)"
        yes={`Yes, ${action}`}
        danger={action !== "resume"}
        onConfirm={() => void confirm()}
      >
        <p>{EFFECT[action]}</p>
      </AskDialog>
    </section>
  );
}
