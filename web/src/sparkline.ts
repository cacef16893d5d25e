// A GPU's utilisation over the last hour as an SVG polyline (the hosts view's sparklines).

const HOUR_MS = 3_600_000;

/** Points for [time, percent] samples over the hour before `now`, in a width x height box (0 % at the bottom). */
export function sparklinePoints(samples: [string, number | null][], now: number, width = 120, height = 24): string {
  return samples
    .filter(([, v]) => v !== null)
    .map(([at, v]) => {
      const x = Math.max(0, Math.min(width, ((Date.parse(at) - (now - HOUR_MS)) / HOUR_MS) * width));
      const y = height - (Math.max(0, Math.min(100, v!)) / 100) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}
