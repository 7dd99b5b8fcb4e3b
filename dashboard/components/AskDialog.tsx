"use client";

import { useId, type ReactNode, type RefObject } from "react";

// what the API refuses in a reason or a note (serve/schemas.py TEXT): control characters, line and paragraph
// separators, and the bidirectional overrides that could make a record read otherwise than it is
const REFUSED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** What a person typed (or pasted) in a reason or a note, as the API takes it: one line, each character it refuses
 * a space (a line break typed in the box is one). */
export function oneLine(text: string): string {
  return text.replace(REFUSED, " ").replace(/\s+/g, " ").trim();
}

/** A confirmation that asks why before an action is sent to the desk (recorded in the audit trail with the name
 * of who asked): the kill switch's actions, an alert's acknowledgement. */
export function AskDialog({
  dialog,
  title,
  children,
  label,
  text,
  setText,
  busy,
  yes,
  danger = false,
  onConfirm,
}: {
  dialog: RefObject<HTMLDialogElement | null>;
  title: string;
  children: ReactNode; // what the action does, before it is sent
  label: string;
  text: string;
  setText: (text: string) => void;
  busy: boolean;
  yes: string;
  danger?: boolean;
  onConfirm: () => void;
}) {
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
