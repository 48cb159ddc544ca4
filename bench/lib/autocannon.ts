/**
 * Fixed-rate latency runs with autocannon (`overallRate`), in a child process pinned to one core.
 * wrk is closed loop and cannot hold a rate (and Debian ships no wrk2), so latency "at half the maximum
 * rate" is measured this way: autocannon schedules requests at the rate and corrects for coordinated
 * omission. It needs ~0.7–0.8 of a core for ~45k req/s (spec performance.md §2.2), enough for half rates.
 *
 * @example
 * const r = await runAutocannon({ url, connections: 50, seconds: 10, rate: 20_000, core: 1 });
 * r.p99Ms; r.rps; r.genCpu;
 */
import { join } from 'node:path';
import { LIB_DIR, runPinnedMeasured } from './proc.js';

export interface AutocannonOptions {
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

export interface AutocannonRunResult {
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
  timeouts: number;
  non2xx: number;
  /** CPU cores used by the generator on average */
  genCpu: number;
}

export async function runAutocannon(o: AutocannonOptions): Promise<AutocannonRunResult> {
  const { core, ...rest } = o;
  const r = await runPinnedMeasured(
    core,
    process.execPath,
    [join(LIB_DIR, 'autocannon-runner.js'), JSON.stringify({ ...rest, rate: Math.round(o.rate) })],
    { timeoutMs: (o.seconds + 60) * 1000 },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{'))
    throw new Error(`autocannon runner exited ${r.code}: ${r.stderr}`);
  return JSON.parse(line) as AutocannonRunResult;
}
