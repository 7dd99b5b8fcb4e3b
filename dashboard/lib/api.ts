// The gateway's REST API (/api/v1), from the page's own origin. A login exchanges an API key for a
// short-lived token (POST /auth/token); the token is kept in localStorage (every tab of the origin shares it; it expires), the
// key only in this page's memory, to fetch a fresh token before the old one expires.

export type Role = "viewer" | "trader" | "admin";
export const API = "/api/v1";
const STORE = "octet.session";
const RANK: Record<Role, number> = { viewer: 0, trader: 1, admin: 2 };

export interface Session {
  token: string;
  expiresAt: number; // seconds since the epoch
  role: Role;
  name: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public type: string,
    public title: string,
    public detail: string,
  ) {
    super(detail || title);
  }
}

let key: string | null = null; // in memory only: a reload asks for it again once the token expires
let refreshing: Promise<Session> | null = null;

export function session(): Session | null {
  if (typeof window === "undefined") return null;
  try {
    const s = JSON.parse(window.localStorage.getItem(STORE) || "null") as Session | null;
    if (!s || typeof s.token !== "string" || s.expiresAt * 1000 <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function may(s: Session | null, least: Role): boolean {
  return !!s && RANK[s.role] >= RANK[least];
}

async function problem(r: Response): Promise<ApiError> {
  let doc: { type?: string; title?: string; detail?: string } = {};
  try {
    doc = await r.json();
  } catch {
    /* not a problem document */
  }
  const type = (doc.type || "").replace("urn:octet:problem:", "");
  return new ApiError(r.status, type || String(r.status), doc.title || r.statusText, doc.detail || "");
}

export async function login(apiKey: string): Promise<Session> {
  const k = apiKey.trim();
  if (!k.startsWith("okt_")) throw new ApiError(400, "invalid-key", "Not an API key", "an API key starts with okt_");
  const r = await fetch(`${API}/auth/token`, { method: "POST", headers: { Authorization: `Bearer ${k}` } });
  if (!r.ok) throw await problem(r);
  const t = (await r.json()) as { access_token: string; expires_at: number; role: Role };
  const w = await fetch(`${API}/whoami`, { headers: { Authorization: `Bearer ${t.access_token}` } });
  if (!w.ok) throw await problem(w);
  const who = (await w.json()) as { name: string };
  const s: Session = { token: t.access_token, expiresAt: t.expires_at, role: t.role, name: who.name };
  window.localStorage.setItem(STORE, JSON.stringify(s));
  key = k;
  return s;
}

export function logout(): void {
  key = null;
  window.localStorage.removeItem(STORE);
}

export function toLogin(): void {
  const here = window.location.pathname + window.location.search;
  logout();
  if (!window.location.pathname.startsWith("/login")) {
    window.location.assign(`/login/?next=${encodeURIComponent(here)}`);
  }
}

/** The session's token, renewed with the key in memory when it has under a minute left. */
export async function token(): Promise<string> {
  const s = session();
  if (s && s.expiresAt * 1000 - Date.now() > 60_000) return s.token;
  if (key) {
    refreshing ??= login(key).finally(() => (refreshing = null));
    return (await refreshing).token;
  }
  if (s) return s.token;
  toLogin();
  throw new ApiError(401, "unauthorized", "Logged out", "log in again");
}

/** GET (or POST with a JSON body) a route under /api/v1; a problem document becomes an ApiError. */
export async function api<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${await token()}` };
  const init: RequestInit = { headers, cache: "no-store" };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(`${API}${path}`, init);
  if (r.status === 401) {
    toLogin();
  }
  if (!r.ok) throw await problem(r);
  return (await r.json()) as T;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

// The API's documents (serve/schemas.py), as far as the pages read them.
export interface Headroom {
  ts_ns: number;
  daily_headroom: string | null;
  max_loss_headroom: string;
  worst_case_daily_headroom: string | null;
  worst_case_max_loss_headroom: string;
  daily_fraction: number;
  daily_floor: string | null;
  max_loss_floor: string | null;
  pass_probability?: number | null;
  hard_breach_probability?: number | null;
  pass_risk_pct?: number | null;
  idle_deadline_ns?: number | null;
}
export interface Position {
  account_id: string;
  position_id: string;
  symbol: string;
  side: string;
  lots: string;
  entry: string;
  stop_loss: string;
  take_profit: string | null;
  price: string;
  floating_pnl: string;
  opened_ns: number;
}
export interface Alert {
  alert_id: string; // breaker-<n>, warning-<n>
  kind: string; // "breaker": a breaker opened; "warning": an alert ahead of a firm's deadline
  ts_ns: number;
  tier: string;
  scope: string;
  trigger: string;
  action: string;
  due_ns?: number | null;
  accounts?: string[] | null;
  acked_by?: string | null;
  acked_ns?: number | null;
  ack_note?: string | null;
}
export interface Breaker {
  tier: string;
  scope: string;
  ts_ns: number;
  from_state: string;
  to_state: string;
  trigger: string;
  action: string;
}
export interface Account {
  account_id: string;
  firm: string;
  currency: string;
  initial_balance: string;
  balance: string | null;
  equity: string | null;
  as_of_ns: number | null;
  headroom: Headroom | null;
  positions: Position[];
  breakers: Breaker[];
  rules: {
    daily_loss_pct: string | null;
    max_loss_pct: string;
    max_loss_limit: string;
    timezone: string;
    reset_time: string;
    resets_ns: number;
  } | null;
}
export interface EquityPoint {
  ts_ns: number;
  balance: string;
  equity: string;
  min_equity: string | null;
}
export interface Signal {
  signal_id: string;
  symbol: string;
  side: string;
  ts_ns: number;
  entry: string;
  stop: string;
  targets: string[];
  confidence: number;
  setup: string;
  evidence: Record<string, unknown>[];
}
export interface Order {
  client_order_id: string;
  account_id: string;
  symbol: string;
  side: string;
  lots: string;
  order_type: string;
  stop_loss: string;
  take_profit: string | null;
  reference_price: string;
  signal_id: string;
  placed_ns: number | null;
  status: string | null;
}
export interface Fill {
  client_order_id: string;
  account_id: string;
  symbol: string;
  side: string;
  lots: string;
  price: string;
  ts_ns: number;
  kind: string;
  reason: string;
  commission: string;
  realized_pnl: string;
}
export interface Trade {
  position_id: string;
  account_id: string;
  symbol: string;
  side: string;
  lots: string;
  entry: string;
  exit: string;
  opened_ns: number;
  closed_ns: number;
  pnl: string;
  reason: string;
  signal_id: string;
}
export interface AuditRecord {
  seq: number;
  run_id: string;
  kind: string;
  ts_ns: number;
  signal_id: string | null;
  order_id: string | null;
  account_id: string | null;
  payload: Record<string, unknown>;
  hash: string;
}
export interface Run {
  run_id: string;
  status: string;
  started_ns: number;
  ticks: number;
  batches: number;
  elapsed_s: number;
  recorded_ns: number | null;
}
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
  run_id?: string; // the run the items are of (orders, fills, operator records, alerts)
}
