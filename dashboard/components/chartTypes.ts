// What the chart draws (the API's bars route, serve/schemas.py), apart from the chart itself so
// that a page can name them without loading the chart library.
import type { IChartApi } from "lightweight-charts";

export interface ChartBar {
  start_ns: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: number;
  phase: string;
}
export interface ChartRange {
  kind: string;
  start_ns: number;
  end_ns: number | null;
  support: string;
  resistance: string;
  phase: string;
  direction: number;
}
export interface ChartEvent {
  event: string;
  bar_ts_ns: number;
  price: number;
}
export interface ChartSignal {
  signal_id: string;
  side: string;
  ts_ns: number;
  entry: string;
  stop: string;
  targets: string[];
  setup: string;
}
export interface ChartFill {
  ts_ns: number;
  side: string;
  price: string;
  lots: string;
  account_id: string;
}

export const PHASE_COLORS: Record<string, string> = {
  A: "#8e7cc3",
  B: "#6fa8dc",
  C: "#f6b26b",
  D: "#93c47d",
  E: "#e06666",
  "": "#555c66",
};
export const BULL = new Set(["SC", "AR", "ST", "spring", "test", "SOS", "LPS", "PS", "BU"]);

export interface ChartHandle {
  update(bar: ChartBar): void;
  addFill(f: ChartFill): void;
  chart(): IChartApi | null;
}
