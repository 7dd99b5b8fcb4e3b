"use client";

import Link from "next/link";
import { useCallback, useEffect, useState } from "react";
import { Guard, Problem } from "@/components/Guard";
import { api, query, type Fill, type Order, type Page, type Position, type Trade } from "@/lib/api";
import { money, when } from "@/lib/format";
import { useStream, type StreamMessage } from "@/lib/stream";

type Tab = "orders" | "fills" | "positions" | "trades";
const TABS: Tab[] = ["orders", "fills", "positions", "trades"];
const LIMIT = 50;

type Row = Record<string, unknown> & { live?: boolean };

const COLUMNS: Record<Tab, [string, string, boolean?][]> = {
  orders: [
    ["client_order_id", "Order"],
    ["account_id", "Account"],
    ["symbol", "Symbol"],
    ["side", "Side"],
    ["lots", "Lots", true],
    ["reference_price", "Price", true],
    ["stop_loss", "Stop", true],
    ["take_profit", "Target", true],
    ["status", "Status"],
    ["placed_ns", "Placed"],
  ],
  fills: [
    ["client_order_id", "Order"],
    ["account_id", "Account"],
    ["symbol", "Symbol"],
    ["side", "Side"],
    ["lots", "Lots", true],
    ["price", "Price", true],
    ["kind", "Kind"],
    ["realized_pnl", "Realized", true],
    ["ts_ns", "Time"],
  ],
  positions: [
    ["position_id", "Position"],
    ["account_id", "Account"],
    ["symbol", "Symbol"],
    ["side", "Side"],
    ["lots", "Lots", true],
    ["entry", "Entry", true],
    ["stop_loss", "Stop", true],
    ["price", "Price", true],
    ["floating_pnl", "P/L", true],
    ["opened_ns", "Opened"],
  ],
  trades: [
    ["position_id", "Position"],
    ["account_id", "Account"],
    ["symbol", "Symbol"],
    ["side", "Side"],
    ["lots", "Lots", true],
    ["entry", "Entry", true],
    ["exit", "Exit", true],
    ["pnl", "P/L", true],
    ["reason", "Closed by"],
    ["closed_ns", "Closed"],
  ],
};

function cell(tab: Tab, key: string, row: Row) {
  const v = row[key];
  if (key === "client_order_id" && typeof v === "string") {
    // the run the row is of: client order ids repeat when the same data runs again
    const run = typeof row.run_id === "string" ? `&run=${encodeURIComponent(row.run_id)}` : "";
    return (
      <Link href={`/story/?order=${encodeURIComponent(v)}${run}`} title="The order's story">
        {v}
      </Link>
    );
  }
  if (key.endsWith("_ns")) return when(v as number | null);
  if (["realized_pnl", "floating_pnl", "pnl"].includes(key)) return money(v as string);
  return v === null || v === undefined ? "–" : String(v);
}

function Blotter() {
  const [tab, setTab] = useState<Tab>("orders");
  const [typedAccount, setTypedAccount] = useState("");
  const [typedSymbol, setTypedSymbol] = useState("");
  const [account, setAccount] = useState("");
  const [symbol, setSymbol] = useState("");
  useEffect(() => {
    const t = setTimeout(() => {
      setAccount(typedAccount);
      setSymbol(typedSymbol);
    }, 300); // once typing pauses
    return () => clearTimeout(t);
  }, [typedAccount, typedSymbol]);
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // the cursor of each page seen
  const [rows, setRows] = useState<Row[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [live, setLive] = useState<Row[]>([]);
  const [error, setError] = useState<unknown>(null);
  const cursor = cursors[cursors.length - 1];

  const load = useCallback(async () => {
    try {
      if (tab === "positions") {
        const r = await api<{ items: Position[] }>(`/positions${query({ account })}`);
        setRows(r.items.filter((p) => !symbol || p.symbol === symbol) as unknown as Row[]);
        setNext(null);
      } else {
        const r = await api<Page<Order | Fill | Trade>>(`/${tab}${query({ account, symbol, limit: LIMIT, cursor })}`);
        setRows(r.items.map((i) => ({ ...i, run_id: r.run_id })) as unknown as Row[]);
        setNext(r.next_cursor ?? null);
      }
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [tab, account, symbol, cursor]);
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    setCursors([null]);
    setLive([]);
  }, [tab, account, symbol]);

  const onMessage = useCallback(
    (m: StreamMessage) => {
      if (tab === "orders" && m.topic === "orders" && m.kind === "report") {
        // an execution report: the streamed order's status, and when it was placed (its first report), as stored
        const x = m.data as { client_order_id?: string; status?: string; ts_ns?: number };
        // a status only moves forward: a report that comes late (a stream replayed after a reconnect, a page read
        // meanwhile) never takes a filled or cancelled order back to working
        const mark = (l: Row[]) =>
          l.map((row) => {
            const was = statusRank(row.status as string | undefined);
            return row.client_order_id === x.client_order_id && was < DONE && statusRank(x.status) >= was
              ? { ...row, status: x.status, placed_ns: row.placed_ns ?? x.ts_ns }
              : row;
          });
        setLive(mark);
        setRows((r) => (r === null ? r : mark(r)));
        return;
      }
      const wanted = tab === "orders" ? m.topic === "orders" && m.kind === "order" : m.topic === tab;
      if (!wanted) {
        if (tab === "positions" && (m.topic === "fills" || m.topic === "trades")) void load();
        return;
      }
      const d = m.data as Row;
      if ((account && d.account_id !== account) || (symbol && d.symbol !== symbol)) return;
      setLive((l) => [{ ...d, run_id: m.run_id, live: true, seq: m.seq, at_us: m.at_us, seen_ms: Date.now() }, ...l].slice(0, 200));
    },
    [tab, account, symbol, load],
  );
  const stream = useStream(["orders", "fills", "trades"], onMessage, () => void load());

  const cols = COLUMNS[tab];
  const shown = [...live, ...(rows ?? [])];
  return (
    <>
      <div className="bar">
        <h1 style={{ margin: 0 }}>Blotter</h1>
        <span className={`pill ${stream.state === "live" ? "good" : "warn"}`} title={stream.detail}>
          {stream.state === "retrying" && stream.detail ? `stream: ${stream.detail}` : `stream ${stream.state}`}
        </span>
      </div>
      <div className="tabs" role="tablist" aria-label="What to list">
        {TABS.map((t) => (
          <button key={t} role="tab" type="button" aria-selected={t === tab} onClick={() => setTab(t)}>
            {t[0].toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      <form className="bar" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Account
          <input value={typedAccount} onChange={(e) => setTypedAccount(e.target.value.trim())} placeholder="every account" />
        </label>
        <label>
          Symbol
          <input value={typedSymbol} onChange={(e) => setTypedSymbol(e.target.value.trim().toUpperCase())} placeholder="every symbol" />
        </label>
      </form>
      <Problem error={error} />
      <div className="scroll">
        <table data-testid={`blotter-${tab}`}>
          <caption className="sr-only">{tab}: the newest from the stream first, then the stored ones oldest first</caption>
          <thead>
            <tr>
              {cols.map(([k, label, n]) => (
                <th key={k} className={n ? "num" : undefined} scope="col">
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, i) => (
              <tr
                key={row.live ? `live-${String(row.seq)}` : `stored-${i}`} /* a streamed row keeps its element as rows arrive above it */
                className={row.live ? "live" : undefined}
                data-live={row.live ? "1" : undefined}
                data-order={typeof row.client_order_id === "string" ? row.client_order_id : undefined}
                data-seq={row.live ? String(row.seq) : undefined}
                data-at-us={row.live ? String(row.at_us) : undefined}
                data-seen-ms={row.live ? String(row.seen_ms) : undefined}
              >
                {cols.map(([k, , n]) => (
                  <td key={k} className={n ? "num" : undefined}>
                    {cell(tab, k, row)}
                  </td>
                ))}
              </tr>
            ))}
            {rows !== null && shown.length === 0 && (
              <tr>
                <td colSpan={cols.length} className="muted">
                  Nothing yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {tab !== "positions" && (
        <div className="bar" style={{ marginTop: 8 }}>
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous page
          </button>
          <span className="muted">page {cursors.length}</span>
          <button type="button" disabled={!next} onClick={() => setCursors((c) => [...c, next])}>
            Next page
          </button>
        </div>
      )}
    </>
  );
}

// how far an order's life has gone: new, then working, then done (a done order's status is final)
const STATUS_RANK: Record<string, number> = {
  new: 0,
  accepted: 1,
  partially_filled: 2,
  filled: 3,
  cancelled: 3,
  rejected: 3,
  expired: 3,
};
const DONE = STATUS_RANK.filled; // filled, cancelled, rejected, expired: final
function statusRank(status: string | undefined): number {
  return status === undefined ? -1 : (STATUS_RANK[status] ?? -1);
}

export default function Page() {
  return <Guard>{() => <Blotter />}</Guard>;
}
