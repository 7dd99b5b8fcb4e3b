"use client";

import { useId, useRef, useState, type ReactNode } from "react";
import { api, ApiError } from "@/lib/api";

// what the API refuses in a reason or a note (serve/schemas.py TEXT): control characters, line and paragraph
// separators, and the bidirectional overrides that could make a record read otherwise than it is
const REFUSED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** What a person typed (or pasted) in a reason or a note, as the API takes it: one line, each character it refuses
 * a space (a line break typed in the box is one). */
export function oneLine(text: string): string {
  return text.replace(REFUSED, " ").replace(/\s+/g, " ").trim();
}

/** A problem the API answered (or any other failure), as one line to show. */
export function problemText(e: unknown): string {
  return e instanceof ApiError ? `${e.title}: ${e.detail}` : String(e);
}

/** A request to the desk behind a dialog that asks why (``AskDialog``): ``open`` shows it with an empty text, ``send``
 * POSTs the text as one line under ``field`` and shows the desk's answer, or why it was refused, as ``result``. */
export function useAsk() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState("");
  const open = () => {
    setText("");
    setResult("");
    dialog.current?.showModal();
  };
  const send = async (path: string, field: "reason" | "note", then: () => unknown) => {
    setBusy(true);
    try {
      const r = await api<{ request_id: string; outcome: string | null }>(path, { [field]: oneLine(text), wait_seconds: 10 });
      setResult(r.outcome ?? `asked (request ${r.request_id}); the desk has not answered yet`);
      dialog.current?.close();
      await then();
    } catch (e) {
      setResult(problemText(e));
    } finally {
      setBusy(false);
    }
  };
  return { dialog, text, setText, busy, result, open, send };
}

/** A confirmation that asks why before an action is sent to the desk (recorded in the audit trail with the name
 * of who asked): the kill switch's actions, an alert's acknowledgement. */
export function AskDialog({
  ask,
  title,
  children,
  label,
  yes,
  danger = false,
  onConfirm,
}: {
  ask: ReturnType<typeof useAsk>;
  title: string;
  children: ReactNode; // what the action does, before it is sent
  label: string;
  yes: string;
  danger?: boolean;
  onConfirm: () => void;
}) {
  const { dialog, text, setText, busy } = ask;
  const id = useId();
  return (
    <dialog ref={dialog} aria-labelledby={id}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onConfirm();
        }}
      >
        <h2 id={id}>{title}</h2>
        {children}
        <label>
          {label}
          <textarea value={text} onChange={(e) => setText(e.target.value)} required maxLength={500} rows={2} />
        </label>
        <div className="bar" style={{ marginTop: 10 }}>
          <button type="submit" className={danger ? "danger" : "primary"} disabled={busy || !oneLine(text)}>
            {busy ? "Asking the desk…" : yes}
          </button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
