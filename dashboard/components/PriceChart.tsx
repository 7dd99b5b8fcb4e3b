"use client";

// Candlesticks (TradingView's lightweight-charts, in the browser only; its attribution logo stays on),
// with the Wyckoff ranges as bands, events and signals and fills as markers, the latest signal's
// entry, stop and targets as price lines, and the phase as a strip in a pane below.
import {
  BaselineSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  type IChartApi,
  type IPriceLine,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import { BULL, PHASE_COLORS, type ChartBar, type ChartEvent, type ChartFill, type ChartHandle, type ChartRange, type ChartSignal } from "./chartTypes";

const STRIP_MAX = 4000;

export const sec = (ns: number) => Math.floor(ns / 1e9) as UTCTimestamp;


export function PriceChart({
  bars,
  ranges,
  events,
  signals,
  fills,
  seconds,
  precision,
  dark,
  handle,
  onShown,
}: {
  bars: ChartBar[];
  ranges: ChartRange[];
  events: ChartEvent[];
  signals: ChartSignal[];
  fills: ChartFill[];
  seconds: number;
  precision: number;
  dark: boolean;
  handle: React.MutableRefObject<ChartHandle | null>;
  onShown?: (bars: number) => void; // how many bars the view spans, as it changes
}) {
  const shown = useRef(onShown);
  shown.current = onShown;
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const text = dark ? "#e6e9ed" : "#15191e";
    const grid = dark ? "#222a33" : "#e3e7ec";
    const chart = createChart(el, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: dark ? "#0f1216" : "#ffffff" }, textColor: text, attributionLogo: true },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      // zoomed out, every bar fits (the default 0.5 px a bar would stop at ~2,700 bars across)
      timeScale: { timeVisible: true, secondsVisible: seconds < 60, minBarSpacing: 0.01 },
      crosshair: { mode: 0 },
    });
    const candles: ISeriesApi<"Candlestick"> = chart.addSeries(CandlestickSeries, {
      upColor: "#26a69a",
      downColor: "#ef5350",
      wickUpColor: "#26a69a",
      wickDownColor: "#ef5350",
      borderVisible: false,
      priceFormat: { type: "price", precision, minMove: 10 ** -precision },
    });
    const toBar = (b: ChartBar) => ({
      time: sec(b.start_ns),
      open: Number(b.open),
      high: Number(b.high),
      low: Number(b.low),
      close: Number(b.close),
    });
    candles.setData(bars.map(toBar));
    // the phase strip: one block per bar in a pane of its own
    const strip = chart.addSeries(
      HistogramSeries,
      { priceLineVisible: false, lastValueVisible: false, priceFormat: { type: "volume" }, title: "phase" },
      1,
    );
    const stripBar = (b: ChartBar) => ({ time: sec(b.start_ns), value: 1, color: PHASE_COLORS[b.phase] ?? PHASE_COLORS[""] });
    strip.setData(bars.map(stripBar));
    const panes = chart.panes();
    if (panes[1]) panes[1].setHeight(40);
    // each range a band between its support and resistance over its bars
    const lastT = bars.length ? bars[bars.length - 1].start_ns : 0;
    for (const r of ranges) {
      const end = r.end_ns ?? lastT;
      const span = bars.filter((b) => b.start_ns >= r.start_ns && b.start_ns <= end);
      if (span.length < 2) continue;
      const sup = Number(r.support);
      const color = r.direction > 0 || r.kind.includes("accum") ? "38, 166, 154" : r.direction < 0 || r.kind.includes("distrib") ? "239, 83, 80" : "111, 168, 220";
      const band = chart.addSeries(BaselineSeries, {
        baseValue: { type: "price", price: sup },
        topFillColor1: `rgba(${color}, 0.18)`,
        topFillColor2: `rgba(${color}, 0.18)`,
        topLineColor: `rgba(${color}, 0.9)`,
        bottomFillColor1: "rgba(0,0,0,0)",
        bottomFillColor2: "rgba(0,0,0,0)",
        bottomLineColor: "rgba(0,0,0,0)",
        lineWidth: 1,
        priceLineVisible: false,
        lastValueVisible: false,
        crosshairMarkerVisible: false,
        title: "",
      });
      band.setData(span.map((b) => ({ time: sec(b.start_ns), value: Number(r.resistance) })));
    }
    // markers: the detector's events, the desk's signals and fills, each on its bar
    const barTime = (ns: number) => sec(ns - (ns % (seconds * 1e9)));
    const markers: SeriesMarker<Time>[] = [];
    for (const e of events) {
      const up = BULL.has(e.event);
      markers.push({ time: barTime(e.bar_ts_ns), position: up ? "belowBar" : "aboveBar", shape: "circle", color: up ? "#26a69a" : "#ef5350", text: e.event, id: `ev-${e.event}-${e.bar_ts_ns}` });
    }
    for (const s of signals) {
      const buy = s.side.toUpperCase().startsWith("B");
      markers.push({ time: barTime(s.ts_ns), position: buy ? "belowBar" : "aboveBar", shape: buy ? "arrowUp" : "arrowDown", color: "#5fb3ff", text: `${s.setup} ${buy ? "buy" : "sell"}`, id: `sig-${s.signal_id}` });
    }
    const fillMarker = (f: ChartFill): SeriesMarker<Time> => {
      const buy = f.side.toUpperCase().startsWith("B");
      return { time: barTime(f.ts_ns), position: "inBar", shape: "square", color: buy ? "#3ecf8e" : "#f2b84b", text: `${buy ? "B" : "S"} ${f.lots}`, id: `fill-${f.ts_ns}-${f.account_id}` };
    };
    for (const f of fills) markers.push(fillMarker(f));
    const byTime = (a: SeriesMarker<Time>, b: SeriesMarker<Time>) => Number(a.time) - Number(b.time);
    markers.sort(byTime);
    const plugin: ISeriesMarkersPluginApi<Time> = createSeriesMarkers(candles, markers);
    // the latest signal's entry, stop and targets
    const lines: IPriceLine[] = [];
    const last = signals[signals.length - 1];
    if (last) {
      lines.push(candles.createPriceLine({ price: Number(last.entry), color: "#5fb3ff", lineWidth: 1, lineStyle: 0, axisLabelVisible: true, title: "entry" }));
      lines.push(candles.createPriceLine({ price: Number(last.stop), color: "#ef5350", lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: "stop" }));
      last.targets.forEach((t, i) =>
        lines.push(candles.createPriceLine({ price: Number(t), color: "#26a69a", lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: `target ${i + 1}` })),
      );
    }
    let stripShown = true;
    chart.timeScale().subscribeVisibleLogicalRangeChange((r) => {
      if (!r) return;
      const n = Math.max(0, Math.min(bars.length, Math.ceil(r.to)) - Math.max(0, Math.floor(r.from)));
      shown.current?.(n);
      // over a few thousand bars a phase block is under a pixel wide: the strip is hidden (and not
      // drawn), and so are the wicks (bench/dashboard.py, panning all 50,000 bars: 29 fps with both,
      // 44 without the strip, 60 without either, in one run)
      if (n <= STRIP_MAX !== stripShown) {
        stripShown = n <= STRIP_MAX;
        strip.applyOptions({ visible: stripShown });
        candles.applyOptions({ wickVisible: stripShown }); // a body is a pixel's line then: its wick adds nothing
      }
    });
    chart.timeScale().fitContent();
    if (bars.length > 400) chart.timeScale().setVisibleLogicalRange({ from: bars.length - 300, to: bars.length + 5 });
    handle.current = {
      update: (b) => {
        candles.update(toBar(b));
        strip.update(stripBar(b));
      },
      addFill: (f) => {
        markers.push(fillMarker(f));
        markers.sort(byTime);
        plugin.setMarkers(markers);
      },
      chart: () => chart,
    };
    return () => {
      handle.current = null;
      chart.remove();
    };
  }, [bars, ranges, events, signals, fills, seconds, precision, dark, handle]);
  return <div ref={box} className="chart" data-testid="chart" aria-label="Price chart" role="img" />;
}
