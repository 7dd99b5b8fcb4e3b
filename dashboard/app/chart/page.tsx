"use client";

import dynamic from "next/dynamic";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Guard, Problem } from "@/components/Guard";
import { PHASE_COLORS, type ChartBar, type ChartEvent, type ChartFill, type ChartHandle, type ChartRange, type ChartSignal } from "@/components/chartTypes";
import { api, query, type Fill, type Page } from "@/lib/api";
import { when } from "@/lib/format";
import { useStream, type StreamMessage } from "@/lib/stream";

// the chart library touches the DOM: loaded in the browser only, in a chunk of its own
const PriceChart = dynamic(() => import("@/components/PriceChart").then((m) => m.PriceChart), {
  ssr: false,
  loading: () => <div className="chart" role="status" aria-label="Loading the chart" />,
});

const SECONDS = [60, 300, 900, 1800, 3600, 14400, 86400]; // every length the API makes
const CHUNK = 5000;

interface Bars {
  items: ChartBar[];
  ranges: ChartRange[];
  events: ChartEvent[];
  signals: ChartSignal[];
  truncated: boolean;
}

interface Loaded {
  bars: ChartBar[];
  ranges: ChartRange[];
  events: ChartEvent[];
  signals: ChartSignal[];
  fills: ChartFill[];
}

function Chart() {
  const [symbols, setSymbols] = useState<string[]>([]);
  const [precision, setPrecision] = useState<Record<string, number>>({});
  const [symbol, setSymbol] = useState<string>("");
  const [seconds, setSeconds] = useState(60);
  const [max, setMax] = useState(20_000);
  const [data, setData] = useState<Loaded | null>(null);
  const [progress, setProgress] = useState("");
  const [shownBars, setShownBars] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [dark, setDark] = useState(true);
  const [liveFills, setLiveFills] = useState<(ChartFill & { seq: number; at_us: number; seen_ms: number })[]>([]);
  const handle = useRef<ChartHandle | null>(null);
  const liveRef = useRef<ChartFill[]>([]);
  liveRef.current = liveFills;
  const last = useRef<ChartBar | null>(null);

  useEffect(() => {
    const q = new URLSearchParams(window.location.search);
    setDark((document.documentElement.dataset.theme || "dark") === "dark");
    // a length the API does not make is left to its 422 (said below the chart), and the list shows it as asked
    if (q.get("seconds")) setSeconds(Number(q.get("seconds")));
    if (q.get("bars")) setMax(Math.max(100, Math.min(200_000, Number(q.get("bars")) || 20_000)));
    api<{ items: { symbol: string; price_precision: number }[] }>("/instruments").then(
      (r) => {
        const all = r.items.map((x) => x.symbol);
        setPrecision(Object.fromEntries(r.items.map((x) => [x.symbol, x.price_precision])));
        setSymbols(all);
        setSymbol(q.get("symbol") || all[0] || "");
      },
      setError,
    );
  }, []);

  const load = useCallback(async () => {
    if (!symbol) return;
    setError(null);
    try {
      const out: Loaded = { bars: [], ranges: [], events: [], signals: [], fills: [] };
      let from: number | undefined;
      // oldest first, a page at a time (the API gives at most 5,000 bars a call), up to `max`
      for (;;) {
        const page = await api<Bars>(`/instruments/${encodeURIComponent(symbol)}/bars${query({ seconds, limit: CHUNK, from_ns: from })}`);
        out.bars.push(...page.items);
        out.ranges.push(...page.ranges);
        out.events.push(...page.events);
        out.signals.push(...page.signals);
        setProgress(`${out.bars.length.toLocaleString()} bar${out.bars.length === 1 ? "" : "s"}`);
        if (!page.truncated || !page.items.length || out.bars.length >= max) break;
        from = page.items[page.items.length - 1].start_ns + seconds * 1e9;
      }
      if (out.bars.length > max) out.bars = out.bars.slice(out.bars.length - max);
      const seen = new Set<string>();
      out.signals = out.signals.filter((s) => !seen.has(s.signal_id) && seen.add(s.signal_id));
      // in time order: a later page can bring an older signal (of a structure begun before its bars),
      // and the latest signal's lines are the last one's
      out.signals.sort((a, b) => a.ts_ns - b.ts_ns);
      let cursor: string | null | undefined = null;
      do {
        const f: Page<Fill> = await api<Page<Fill>>(`/fills${query({ symbol, limit: 1000, cursor })}`);
        out.fills.push(...f.items);
        cursor = f.next_cursor;
      } while (cursor && out.fills.length < 20_000);
      last.current = out.bars[out.bars.length - 1] ?? null;
      setData(out);
    } catch (e) {
      setError(e);
    }
  }, [symbol, seconds, max]);
  useEffect(() => {
    setLiveFills([]);
    void load();
  }, [load]);

  const reloadSoon = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onMessage = useCallback(
    (m: StreamMessage) => {
      const d = m.data;
      if (d.symbol !== symbol) return;
      if (m.topic === "fills") {
        // listed at once; drawn when the chart is there (one being rebuilt draws its fills from the list)
        const f = d as unknown as ChartFill;
        handle.current?.addFill(f);
        setLiveFills((x) => [...x, { ...f, seq: m.seq, at_us: m.at_us, seen_ms: Date.now() }].slice(-500));
        return;
      }
      if (!handle.current) return;
      if (m.topic === "quotes") {
        const ts = Number(d.ts_ns);
        const mid = ((Number(d.bid) + Number(d.ask)) / 2).toString();
        const start = ts - (ts % (seconds * 1e9));
        const b = last.current;
        if (b && start < b.start_ns) return; // older than what is drawn
        const next: ChartBar =
          b && b.start_ns === start
            ? { ...b, high: String(Math.max(Number(b.high), Number(mid))), low: String(Math.min(Number(b.low), Number(mid))), close: mid }
            : { start_ns: start, open: mid, high: mid, low: mid, close: mid, volume: 0, phase: b?.phase ?? "" };
        last.current = next;
        handle.current.update(next);
      } else if (m.topic === "signals" && !reloadSoon.current) {
        // a new signal: read the structure and signals again (the detector's view of the bars)
        reloadSoon.current = setTimeout(() => ((reloadSoon.current = null), void load()), 1500);
      }
    },
    [symbol, seconds, load],
  );
  const stream = useStream(["quotes", "fills", "signals"], onMessage, () => void load());
  // a chart (re)built draws the fills read over REST and those that came live since (not each new
  // one: those are added to the chart as they come, without a rebuild)
  const drawnFills = useMemo(() => {
    if (!data) return [];
    const known = new Set(data.fills.map((f) => `${f.ts_ns}/${f.account_id}/${f.side}`));
    return [...data.fills, ...liveRef.current.filter((f) => !known.has(`${f.ts_ns}/${f.account_id}/${f.side}`))];
  }, [data]);

  return (
    <>
      <div className="bar">
        <h1 style={{ margin: 0 }}>Chart</h1>
        <label>
          Instrument{" "}
          <select value={symbol} onChange={(e) => setSymbol(e.target.value)}>
            {symbols.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Bars{" "}
          <select value={seconds} onChange={(e) => setSeconds(Number(e.target.value))}>
            {(SECONDS.includes(seconds) ? SECONDS : [seconds, ...SECONDS]).map((s) => (
              <option key={s} value={s}>
                {s % 60 ? `${s} s` : s < 3600 ? `${s / 60} min` : s < 86400 ? `${s / 3600} h` : s === 86400 ? "1 day" : `${s} s`}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" role="status" data-testid="chart-progress">
          {progress}
        </span>
        <span className="muted" data-testid="chart-shown" data-bars={shownBars}>
          {shownBars ? `${shownBars.toLocaleString()} in view` : ""}
        </span>
        <span className={`pill ${stream.state === "live" ? "good" : "warn"}`} title={stream.detail}>
          {stream.state === "retrying" && stream.detail ? `stream: ${stream.detail}` : `stream ${stream.state}`}
        </span>
      </div>
      <Problem error={error} />
      {data && data.bars.length === 0 ? (
        <p className="muted">No bars recorded for {symbol} (the desk records them with storage.record_ticks).</p>
      ) : data ? (
        <PriceChart {...data} fills={drawnFills} seconds={seconds} precision={precision[symbol] ?? 5} dark={dark} handle={handle} onShown={setShownBars} />
      ) : (
        <div className="chart" />
      )}
      <div className="legend" aria-label="Phases">
        {Object.entries(PHASE_COLORS)
          .filter(([k]) => k)
          .map(([k, c]) => (
            <span key={k} style={{ ["--c" as string]: c }}>
              phase {k}
            </span>
          ))}
      </div>
      {data && <Marks data={data} live={liveFills} seconds={seconds} />}
      {data && data.signals.length > 0 && (
        <table style={{ marginTop: 10 }} data-testid="chart-signals">
          <caption className="sr-only">The desk's signals on these bars</caption>
          <thead>
            <tr>
              <th scope="col">Signal</th>
              <th scope="col">Time</th>
              <th scope="col">Side</th>
              <th scope="col" className="num">Entry</th>
              <th scope="col" className="num">Stop</th>
              <th scope="col">Targets</th>
            </tr>
          </thead>
          <tbody>
            {data.signals.slice(-10).map((s) => (
              <tr key={s.signal_id}>
                <td>{s.setup}</td>
                <td>{when(s.ts_ns)}</td>
                <td>{s.side}</td>
                <td className="num">{s.entry}</td>
                <td className="num">{s.stop}</td>
                <td>{s.targets.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** What the chart marks, as a table (for a screen reader, and to read exact times and prices). */
function Marks({ data, live, seconds }: { data: Loaded; live: (ChartFill & { seq: number; at_us: number; seen_ms: number })[]; seconds: number }) {
  const bar = (ns: number) => ns - (ns % (seconds * 1e9));
  const last = data.signals[data.signals.length - 1];
  const seen = new Set(live.map((f) => `${f.ts_ns}/${f.account_id}/${f.side}`)); // a live fill, read again over REST
  const rows: { kind: string; label: string; ns: number; price: string; extra?: Record<string, string> }[] = [
    ...data.events.map((e) => ({ kind: "event", label: e.event, ns: bar(e.bar_ts_ns), price: String(e.price) })),
    ...data.signals.map((s) => ({ kind: "signal", label: `${s.setup} ${s.side}`, ns: bar(s.ts_ns), price: s.entry })),
    ...data.fills.filter((f) => !seen.has(`${f.ts_ns}/${f.account_id}/${f.side}`)).map((f) => ({ kind: "fill", label: `${f.side} ${f.lots} ${f.account_id}`, ns: bar(f.ts_ns), price: f.price })),
    ...live.map((f) => ({
      kind: "fill",
      label: `${f.side} ${f.lots} ${f.account_id}`,
      ns: bar(f.ts_ns),
      price: f.price,
      extra: { "data-live": "1", "data-seq": String(f.seq), "data-at-us": String(f.at_us), "data-seen-ms": String(f.seen_ms) },
    })),
  ].sort((a, b) => a.ns - b.ns);
  return (
    <details style={{ marginTop: 10 }}>
      <summary>
        What the chart marks ({rows.length}){last ? ` · latest signal: entry ${last.entry}, stop ${last.stop}, targets ${last.targets.join(", ")}` : ""}
      </summary>
      {last && (
        <p data-testid="chart-lines">
          Lines: entry <span data-line="entry">{last.entry}</span>, stop <span data-line="stop">{last.stop}</span>, targets{" "}
          {last.targets.map((x, i) => (
            <span key={i} data-line="target">
              {x}
              {i < last.targets.length - 1 ? ", " : ""}
            </span>
          ))}
        </p>
      )}
      <div className="scroll" style={{ maxHeight: 320 }}>
        <table data-testid="chart-marks">
          <caption className="sr-only">Events, signals and fills on the chart, by bar</caption>
          <thead>
            <tr>
              <th scope="col">Mark</th>
              <th scope="col">What</th>
              <th scope="col">Bar</th>
              <th scope="col" className="num">Price</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} data-kind={r.kind} data-label={r.label} data-bar-ns={r.ns} {...r.extra}>
                <td>{r.kind}</td>
                <td>{r.label}</td>
                <td>{when(r.ns)}</td>
                <td className="num">{r.price}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

export default function Page() {
  return <Guard>{() => <Chart />}</Guard>;
}
