"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError, login } from "@/lib/api";

/** Where to go after the login: a path on this origin, never elsewhere (a `next` of `/\\host` or
 * `/\t/host` is another site to a browser). */
function sameOrigin(next: string | null): string {
  try {
    const u = new URL(next || "/", window.location.origin);
    return u.origin === window.location.origin ? u.pathname + u.search : "/";
  } catch {
    return "/";
  }
}

export default function Login() {
  const router = useRouter();
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const enter = useCallback(
    async (k: string) => {
      setBusy(true);
      setError("");
      try {
        await login(k);
        router.replace(sameOrigin(new URLSearchParams(window.location.search).get("next")));
      } catch (err) {
        setError(err instanceof ApiError ? `${err.title}: ${err.detail || err.message}` : "the gateway cannot be reached");
        setBusy(false);
      }
    },
    [router],
  );
  // `octet serve --login ROLE` prints /login/#key=...: the fragment never reaches a server; it is
  // dropped from the address (and the history) before the key is used
  useEffect(() => {
    const m = /^#key=(okt_[A-Za-z0-9_-]+)$/.exec(window.location.hash);
    if (m) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      void enter(m[1]);
    }
  }, [enter]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void enter(key);
  };
  return (
    <form className="login" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">Log in to the Octet desk</h1>
      <label>
        API key
        <input
          name="key"
          type="password"
          autoComplete="current-password"
          placeholder="okt_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
      </label>
      <p className="muted">
        An operator makes one with <code>octet users add NAME --role viewer|trader|admin</code>. The key is kept only in this page's memory;
        the desk is read with a token that expires.
      </p>
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      <button className="primary" type="submit" disabled={busy || !key}>
        {busy ? "Logging in…" : "Log in"}
      </button>
    </form>
  );
}
