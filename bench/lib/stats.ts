/**
 * Small statistics and formatting helpers shared by the benchmarks: medians with min/max over
 * repetitions, percentiles of raw samples, and Markdown tables.
 *
 * @example
 * summarize([52_000, 48_000, 55_000]); // { median: 52000, min: 48000, max: 55000, n: 3 }
 * fmtRange(summarize([1, 2, 3]), fmtInt); // '2 (1–3)'
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** Nearest-rank percentile of unsorted samples (`p` in 0..100); sorts a copy. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const v = Float64Array.from(xs).sort();
  const rank = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[rank];
}

/** Percentiles of samples already sorted ascending. */
export function percentilesSorted(sorted: ArrayLike<number>, ps: readonly number[]): number[] {
  return ps.map((p) => {
    if (sorted.length === 0) return Number.NaN;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  });
}

export const fmtInt = (x: number): string =>
  Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
export const fmt1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
export const fmt2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
export const fmtMs = (x: number): string =>
  !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);

/** `median (min–max)` */
export function fmtRange(s: Summary, f: (x: number) => string): string {
  if (s.n === 0) return '–';
  if (s.n === 1) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** A Markdown table; numeric-looking columns are right-aligned. */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const right = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[\d,.–()×≥<>% -]*[\d–]/.test(r[i] ?? '')),
  );
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (right[i] ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  return lines.join('\n');
}
