"use client";

import { useEffect, useState, type ReactNode } from "react";
import { session, toLogin, type Session } from "@/lib/api";

/** Its children once someone is logged in (else to the login page), given the session. */
export function Guard({ children }: { children: (s: Session) => ReactNode }) {
  const [s, setS] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    const found = session();
    if (!found) toLogin();
    setS(found);
  }, []);
  if (!s) return <p className="muted" role="status">Checking your login…</p>;
  return <>{children(s)}</>;
}

export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  return (
    <p className="problem" role="alert">
      {msg}
    </p>
  );
}
