/**
 * Child-process entry point for a fixed-rate (open-loop) run of autocannon, so the generator can be
 * pinned to its own core: `taskset -c 1 node autocannon-runner.js '<json options>'` prints one JSON line
 * with the result and the runner's own CPU use. Started by `runAutocannon` (autocannon.ts).
 *
 * With `overallRate` set, autocannon sends at that rate and corrects latencies for coordinated omission
 * (a request that could not be sent on schedule because its connection was busy counts from its
 * scheduled time).
 */
import { readFileSync } from 'node:fs';

interface RunnerOptions {
  url: string;
  connections: number;
  seconds: number;
  rate: number;
  method?: string;
  headers?: Record<string, string>;
  bodyFile?: string;
}

interface AutocannonHistogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  total?: number;
}

interface AutocannonResult {
  requests: AutocannonHistogram & { total: number };
  latency: AutocannonHistogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}

type Autocannon = (opts: Record<string, unknown>, cb: (err: unknown, r: AutocannonResult) => void) => unknown;

const opts = JSON.parse(process.argv[2] ?? '{}') as RunnerOptions;
const specifier = 'autocannon'; // untyped package: a non-literal specifier keeps tsc from asking for types
const autocannon = ((await import(specifier)) as { default: Autocannon }).default;

const body = opts.bodyFile === undefined ? undefined : readFileSync(opts.bodyFile);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await new Promise<AutocannonResult>((resolve, reject) => {
  autocannon(
    {
      url: opts.url,
      connections: opts.connections,
      duration: opts.seconds,
      overallRate: opts.rate,
      method: opts.method ?? 'GET',
      headers: opts.headers ?? {},
      body,
    },
    (err, r) => (err ? reject(err) : resolve(r)),
  );
});
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    seconds: result.duration,
    ok: result['2xx'],
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    p999Ms: result.latency.p99_9,
    maxMs: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    genCpu: (cpu.user + cpu.system) / 1e6 / wall,
  })}\n`,
);
