/**
 * Runs wrk (closed loop: each connection sends its next request when the previous answer arrives) pinned
 * to one core and parses its report, including the `--latency` percentiles and the generator's own CPU.
 *
 * @example
 * const r = await runWrk({ url: 'http://127.0.0.1:8080/i', connections: 50, seconds: 10, core: 1 });
 * r.rps; r.p99Ms; r.genCpu; // requests/s, 99th percentile in ms, CPU cores used by wrk
 */
import { join } from 'node:path';
import { ROOT, runPinnedMeasured } from './proc.js';

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  /** core to pin wrk to (undefined: unpinned) */
  core?: number;
  threads?: number;
  headers?: Record<string, string>;
  /** a POST body file, sent with bench/wrk/post.lua */
  bodyFile?: string;
  contentType?: string;
  timeoutSeconds?: number;
}

export interface WrkResult {
  rps: number;
  requests: number;
  seconds: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  socketErrors: number;
  /** CPU cores used by wrk on average (CPU seconds ÷ run seconds) */
  genCpu: number;
  raw: string;
}

/** `650.00us`, `1.20ms`, `2.00s`, `1.00m` → milliseconds */
export function parseDurationMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (m === null) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

export function parseWrk(out: string): Omit<WrkResult, 'genCpu' | 'raw'> {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    return m === null ? Number.NaN : parseDurationMs(m[1]);
  };
  const done = /(\d+) requests in ([\d.]+)(ms|s|m),/.exec(out);
  const requests = done === null ? Number.NaN : Number(done[1]);
  const seconds =
    done === null ? Number.NaN : Number(done[2]) * (done[3] === 'ms' ? 0.001 : done[3] === 'm' ? 60 : 1);
  const latencyLine = /^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    requests,
    seconds,
    p50Ms: pct('50'),
    p75Ms: pct('75'),
    p90Ms: pct('90'),
    p99Ms: pct('99'),
    maxMs: latencyLine === null ? Number.NaN : parseDurationMs(latencyLine[3]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: sock === null ? 0 : sock.slice(1).reduce((a, x) => a + Number(x), 0),
  };
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${o.threads ?? 1}`,
    `-c${o.connections}`,
    `-d${Math.max(1, Math.round(o.seconds))}s`,
    `--timeout`,
    `${o.timeoutSeconds ?? 10}s`,
    '--latency',
  ];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  const env: NodeJS.ProcessEnv = {};
  if (o.bodyFile !== undefined) {
    args.push('-s', join(ROOT, 'bench', 'wrk', 'post.lua'));
    env.BODY_FILE = o.bodyFile;
    env.CONTENT_TYPE = o.contentType ?? 'application/json; charset=utf-8';
  }
  args.push(o.url);
  const r = await runPinnedMeasured(o.core, 'wrk', args, { env, timeoutMs: (o.seconds + 60) * 1000 });
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr}\n${r.stdout}`);
  const parsed = parseWrk(r.stdout);
  return {
    ...parsed,
    genCpu: r.cpuSeconds / (Number.isFinite(parsed.seconds) ? parsed.seconds : o.seconds),
    raw: r.stdout,
  };
}
