// The gateway's WebSocket stream (/api/v1/stream, docs/api.md "The stream"): numbered messages,
// resumed after a reconnect from the last number seen, acknowledged as they are read.
"use client";

import { useEffect, useRef, useState } from "react";
import { API, toLogin, token } from "./api";

export interface StreamMessage {
  seq: number;
  at_us: number;
  topic: string;
  account: string | null;
  run_id?: string;
  kind?: string;
  data: Record<string, unknown>;
}

export type StreamState = "connecting" | "live" | "retrying" | "off";

interface Handlers {
  onMessage: (m: StreamMessage) => void;
  onReload?: () => void; // the stream could not resume: read the state again over REST
  onState?: (s: StreamState, detail: string) => void;
}

export class DeskStream {
  private ws: WebSocket | null = null;
  private last: number | null = null;
  private epoch: string | null = null;
  private tries = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private acked = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private topics: string[],
    private h: Handlers,
  ) {}

  start(): void {
    this.stopped = false;
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
    this.h.onState?.("off", "");
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.h.onState?.(this.tries ? "retrying" : "connecting", "");
    let t: string;
    try {
      t = await token();
    } catch {
      return;
    }
    const q = new URLSearchParams({ topics: this.topics.join(",") });
    if (this.last !== null && this.epoch !== null) {
      q.set("after", String(this.last));
      q.set("epoch", this.epoch);
    }
    const proto = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${window.location.host}${API}/stream?${q}`, ["octet", `octet.bearer.${t}`]);
    this.ws = ws;
    ws.onmessage = (ev) => this.read(ws, String(ev.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 4401) {
        toLogin();
        return;
      }
      if (this.stopped) return;
      this.tries += 1;
      // the gateway has no live stream (the desk's live state is not in Redis): ask again rarely
      const wait = ev.code === 4503 ? 30_000 : Math.min(10_000, 500 * 2 ** Math.min(this.tries, 5));
      this.h.onState?.("retrying", ev.code === 4503 ? "unavailable (the desk's live state is not in Redis)"
        : ev.reason || `closed (${ev.code}); again in ${Math.round(wait / 1000)} s`);
      this.timer = setTimeout(() => void this.open(), wait);
    };
  }

  private read(ws: WebSocket, raw: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(raw);
    } catch {
      return;
    }
    if (m.type === "hello") {
      this.tries = 0;
      const epoch = String(m.epoch ?? "");
      if (this.epoch !== null && epoch !== this.epoch) this.reload();
      this.epoch = epoch;
      if (this.last === null) this.last = Number(m.seq ?? 0);
      this.h.onState?.("live", "");
      return;
    }
    if (m.type === "reload") {
      this.reload();
      return;
    }
    if (m.type === "lost") {
      // what did not fit in this client's queue: fetched again by reconnecting from before it
      this.last = Number(m.first_seq) - 1;
      ws.close(1000);
      return;
    }
    if (m.type === "error") return; // the close that follows says it
    const seq = Number(m.seq);
    if (!Number.isFinite(seq) || (this.last !== null && seq <= this.last)) return; // seen already
    this.last = seq;
    this.h.onMessage(m as unknown as StreamMessage);
    if (seq - this.acked >= 200) this.ack(ws, seq);
    else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = null;
        this.ack(ws, this.last ?? seq);
      }, 250);
    }
  }

  private ack(ws: WebSocket, seq: number): void {
    if (seq > this.acked && ws.readyState === WebSocket.OPEN) {
      this.acked = seq;
      ws.send(JSON.stringify({ type: "ack", seq }));
    }
  }

  private reload(): void {
    this.last = null;
    this.h.onReload?.();
  }
}

/** The stream's messages of ``topics`` for as long as the component is mounted. */
export function useStream(
  topics: string[],
  onMessage: (m: StreamMessage) => void,
  onReload?: () => void,
): { state: StreamState; detail: string } {
  const [state, setState] = useState<{ state: StreamState; detail: string }>({ state: "connecting", detail: "" });
  const handler = useRef(onMessage);
  const reload = useRef(onReload);
  handler.current = onMessage;
  reload.current = onReload;
  const key = topics.join(",");
  useEffect(() => {
    const s = new DeskStream(key.split(","), {
      onMessage: (m) => handler.current(m),
      onReload: () => reload.current?.(),
      onState: (st, detail) => setState({ state: st, detail }),
    });
    s.start();
    return () => s.stop();
  }, [key]);
  return state;
}
