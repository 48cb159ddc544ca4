/**
 * Fixed-rate (open-loop) latency runs, in a child process pinned to one core (fixed-rate-runner.ts).
 * wrk is closed loop and Debian ships no wrk2, so latency "at half the maximum rate" is measured with
 * our own runner on undici: request i is due at start + i / rate whatever happened to earlier ones, and
 * its latency counts from that due time, so a slow answer that holds up later requests is charged to
 * them too (no coordinated omission).
 *
 * Why not autocannon, which this bench used before: its `overallRate` lets each connection send closed
 * loop until it has made its share of the second, then pause until the next second. The "fixed rate"
 * was full-speed bursts at the start of every second, and the bare node:http server measured 48 ms p99
 * at 29 % of a core under it.
 *
 * @example
 * const r = await runFixedRate({ url, connections: 50, seconds: 10, rate: 20_000, core: 1 });
 * r.p99Ms; r.rps; r.genCpu;
 */
import { join } from 'node:path';
import { LIB_DIR, runPinnedMeasured } from './proc.js';

export interface FixedRateOptions {
  url: string;
  connections: number;
  seconds: number;
  /** requests per second, all connections together */
  rate: number;
  core?: number;
  method?: string;
  headers?: Record<string, string>;
  bodyFile?: string;
}

export interface FixedRateResult {
  rps: number;
  requests: number;
  seconds: number;
  ok: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
  /** requests still unanswered 10 s after the last was due */
  timeouts: number;
  non2xx: number;
  /** requests sent more than 2 ms after their due time (the generator falling behind) */
  lateSends: number;
  /** CPU cores used by the generator on average */
  genCpu: number;
}

export async function runFixedRate(o: FixedRateOptions): Promise<FixedRateResult> {
  const { core, ...rest } = o;
  const r = await runPinnedMeasured(
    core,
    process.execPath,
    [join(LIB_DIR, 'fixed-rate-runner.js'), JSON.stringify({ ...rest, rate: Math.round(o.rate) })],
    { timeoutMs: (o.seconds + 60) * 1000 },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{'))
    throw new Error(`fixed-rate runner exited ${r.code}: ${r.stderr}`);
  return JSON.parse(line) as FixedRateResult;
}
