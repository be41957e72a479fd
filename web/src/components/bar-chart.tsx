/** A small dependency-free bar chart (SVG) of a series, e.g. tickets sold per hour. */
export function BarChart({ points, label }: { points: { x: string; y: number }[]; label: string }) {
  const max = Math.max(1, ...points.map((p) => p.y));
  const w = 24;
  const h = 120;
  return (
    <figure className="space-y-1">
      <svg viewBox={`0 0 ${points.length * w} ${h + 20}`} className="h-40 w-full overflow-visible" role="img" aria-label={label}>
        {points.map((p, i) => {
          const bh = Math.round((p.y / max) * h);
          return (
            <g key={p.x}>
              <rect x={i * w + 3} y={h - bh} width={w - 6} height={bh} className="fill-primary" rx={2}>
                <title>{`${p.x}: ${p.y}`}</title>
              </rect>
              {i % 3 === 0 && (
                // The drawing scales to its width: on a phone's (half of its 576 units, or less) the labels are
                // drawn larger, so they read at about the size they have on a wider screen.
                <text
                  x={i * w + w / 2}
                  y={h + 14}
                  textAnchor="middle"
                  className="fill-muted-foreground text-[9px] max-sm:text-[14px] max-[30rem]:text-[20px]"
                >
                  {p.x}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="text-muted-foreground text-xs">{label}</figcaption>
    </figure>
  );
}
