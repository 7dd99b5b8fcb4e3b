// Numbers arrive as exact decimal strings; they are shown, never computed with, except for gauges.

export function money(v: string | null | undefined, currency = ""): string {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return v;
  const s = n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${s} ${currency}` : s;
}

export function when(ns: number | null | undefined, zone?: string): string {
  if (!ns) return "–";
  const d = new Date(Math.floor(ns / 1e6));
  return d.toLocaleString("en-GB", {
    timeZone: zone || "UTC",
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  }) + (zone ? "" : " UTC");
}

export function pct(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

export function num(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, "");
  if (v === null || v === undefined) return "–";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
