// An equity curve as an SVG polyline (no chart library: a card draws one per account).
export function Sparkline({ values, label, width = 280, height = 60 }: { values: number[]; label: string; width?: number; height?: number }) {
  if (values.length < 2) return <p className="muted">No equity points yet.</p>;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const pts = values
    .map((v, i) => `${((i / (values.length - 1)) * width).toFixed(1)},${(height - ((v - lo) / span) * (height - 4) - 2).toFixed(1)}`)
    .join(" ");
  return (
    <svg className="spark" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} preserveAspectRatio="none">
      <polyline points={pts} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
