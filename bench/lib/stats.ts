/** A repeated measurement: its median, range and every run's value. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  values: number[];
  unit: string;
}

export function figure(values: number[], unit: string): Figure {
  // A run that completed nothing gives NaN or Infinity per operation; it is kept in `values` but not summarised.
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, values, unit };
}

/** Throughput between the moments the delivered count crossed `lo` and `hi` of `total` (linear interpolation between samples). */
export function rateBetween(series: Array<[number, number]>, total: number, lo = 0.1, hi = 0.9): number {
  const crossing = (target: number): number => {
    for (let i = 0; i < series.length; i++) {
      const [t, c] = series[i]!;
      if (c >= target) {
        if (i === 0) return t;
        const [t0, c0] = series[i - 1]!;
        return t0 + ((target - c0) / (c - c0)) * (t - t0);
      }
    }
    return NaN;
  };
  const a = crossing(total * lo);
  const b = crossing(total * hi);
  return ((hi - lo) * total) / ((b - a) / 1000);
}

export const round = (n: number, digits = 0) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);
