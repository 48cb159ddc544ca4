/**
 * bench/collector: the collector's HTTP throughput and latency per core, as ratios to a bare node:http
 * server measured in the same run (spec performance.md §3.2 and §3.6 items 1–3).
 *
 *     npx tsc -p . --outDir dist-bench --tsBuildInfoFile dist-bench/.tsbuildinfo
 *     node dist-bench/bench/collector.js [--seconds 10] [--reps 3] [--json results.json] [--gate]
 *
 * Scenarios, each server in its own process pinned to core 0, the load generator pinned to core 1:
 *   baseline    bare node:http answering the 43-byte GIF (bench/lib/baseline-server.ts), same request
 *   pixel       `furrow collector` GET /i with a ~1.2 KB tracker query, UA, `sp` cookie (durable spool)
 *   pixel-c200  the same at 200 connections (reference: more requests share each group commit)
 *   post-fsync  `furrow collector` POST tp2, 2 events (~2.2 KB), 200 connections, 200 after fsync
 *   post-os     the same with `--durability os` (200 once written to the OS), for reference
 *   baseline-post  (latency only) the bare server with post-fsync's POSTs, 200 connections, at post-fsync's
 *               half rate: the p99 that the generator and node:http alone give under the same load
 * Maximum rate: wrk (closed loop, -t1, 50 connections; 200 for POST and pixel-c200), `--reps` interleaved repetitions
 * (every scenario in turn, then again), each after a 1 s warm-up on a fresh process and
 * data directory; medians with min–max. Latency: `--reps` interleaved fixed-rate runs per scenario at half
 * its median maximum with the fixed-rate runner (bench/lib/fixed-rate.ts: open loop, latency from each
 * request's due time), same pinning; the p99 target is checked on the median run, with min–max shown.
 * Also recorded: server CPU (cores, from /proc), generator CPU (flagged "generator-bound" above 0.9 of a
 * core), peak RSS of the server (VmHWM), non-2xx answers. Targets (spec §3.2): pixel ≥ 0.6× baseline,
 * durable POST c200 ≥ 0.45× baseline, p99 < 20 ms at half the maximum rate, RSS < 300 MB.
 * Absolute numbers move ±15–25% on a shared VM; the ratios are what to compare across runs. When other
 * work shares the server's core (server CPU well below 1.0), "CPU-cost ratio" — baseline server CPU µs per
 * request ÷ the scenario's — is the steadier estimate of the same ratio on a dedicated core.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type FixedRateResult, runFixedRate } from './lib/fixed-rate.js';
import { pixelHeaders, pixelPath, postHeaders, TP2_PATH, tp2Body } from './lib/payloads.js';
import { formatLoad, hasTaskset, machineInfo } from './lib/proc.js';
import { type Check, printTargets, writeJsonReport } from './lib/report.js';
import { type Server, startBaseline, startFurrow } from './lib/servers.js';
import { fmt1, fmt2, fmtInt, fmtMs, fmtRange, markdownTable, summarize } from './lib/stats.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'latency-seconds': { type: 'string' },
    'server-core': { type: 'string', default: '0' },
    'generator-core': { type: 'string', default: '1' },
    'data-root': { type: 'string', default: tmpdir() },
    scenarios: { type: 'string', default: 'baseline,pixel,pixel-c200,post-fsync,post-os' },
    json: { type: 'string' },
    gate: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const REPS = Number(values.reps);
const WARMUP = Number(values.warmup);
const LATENCY_SECONDS = Number(values['latency-seconds'] ?? values.seconds);
const SERVER_CORE = Number(values['server-core']);
const GEN_CORE = Number(values['generator-core']);

interface Scenario {
  name: string;
  what: string;
  connections: number;
  eventsPerRequest: number;
  start(dataDir: string): Promise<Server>;
  path: string;
  headers: Record<string, string>;
  bodyFile?: string;
  /** minimum ratio to the baseline median (spec §3.2), if any */
  target?: number;
  /** the p99 < 20 ms at half rate target applies */
  latencyTarget?: boolean;
  /** a latency-only reference run at another scenario's half rate */
  rateOf?: string;
}

const work = mkdtempSync(join(values['data-root'], 'furrow-bench-collector-'));
const bodyFile = join(work, 'tp2-2-events.json');
writeFileSync(bodyFile, tp2Body(2));
const furrowCollector = (dataDir: string, durability: 'fsync' | 'os') =>
  startFurrow(
    [
      'collector',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      '--durability',
      durability,
      '--log-level',
      'warn',
    ],
    // Nothing consumes the raw stream here, so the log only grows: at ~40k POSTs/s a 9 s run comes near the
    // default 1 GiB cap, where the collector rightly answers 503. Each run's data directory is removed after it.
    { core: SERVER_CORE, env: { FURROW_SPOOL_MAX_BYTES: String(8 * 2 ** 30) } },
  );

const ALL: Scenario[] = [
  {
    name: 'baseline',
    what: 'bare node:http → 43-byte GIF (same pixel request)',
    connections: 50,
    eventsPerRequest: 1,
    start: () => startBaseline({ core: SERVER_CORE }),
    path: pixelPath(),
    headers: pixelHeaders(),
  },
  {
    name: 'pixel',
    what: 'furrow collector GET /i, 1.2 KB query, durable',
    connections: 50,
    eventsPerRequest: 1,
    start: (d) => furrowCollector(d, 'fsync'),
    path: pixelPath(),
    headers: pixelHeaders(),
    target: 0.6,
    latencyTarget: true,
  },
  {
    // the spec's collector scenarios run at 50 and 200 connections; the pixel target is checked at 50, as
    // the baseline runs. More requests per group commit: the fdatasync is shared by more of them.
    name: 'pixel-c200',
    what: 'same pixel request, 200 connections (reference)',
    connections: 200,
    eventsPerRequest: 1,
    start: (d) => furrowCollector(d, 'fsync'),
    path: pixelPath(),
    headers: pixelHeaders(),
  },
  {
    name: 'post-fsync',
    what: 'furrow collector POST tp2 2 events 2.2 KB, ack after fsync',
    connections: 200,
    eventsPerRequest: 2,
    start: (d) => furrowCollector(d, 'fsync'),
    path: TP2_PATH,
    headers: postHeaders(),
    bodyFile,
    target: 0.45,
    latencyTarget: true,
  },
  {
    name: 'post-os',
    what: 'same POST, --durability os (reference)',
    connections: 200,
    eventsPerRequest: 2,
    start: (d) => furrowCollector(d, 'os'),
    path: TP2_PATH,
    headers: postHeaders(),
    bodyFile,
  },
];
const wanted = new Set(String(values.scenarios).split(','));
const SCENARIOS = ALL.filter((s) => wanted.has(s.name));
if (!SCENARIOS.some((s) => s.name === 'baseline')) SCENARIOS.unshift(ALL[0]);

interface MaxRun extends WrkResult {
  serverCpu: number;
  hwmMb: number;
}
interface LatencyRun extends FixedRateResult {
  targetRate: number;
  serverCpu: number;
  hwmMb: number;
}

async function withServer<T>(s: Scenario, fn: (server: Server) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(work, `${s.name}-`));
  const server = await s.start(dataDir);
  try {
    return await fn(server);
  } finally {
    const code = await server.stop();
    if (code !== 0 && code !== null)
      process.stderr.write(`${s.name}: server exited ${code}\n${server.log()}\n`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function wrkOptions(s: Scenario, url: string, seconds: number) {
  return {
    url: `${url}${s.path}`,
    connections: s.connections,
    seconds,
    core: GEN_CORE,
    headers: s.bodyFile === undefined ? s.headers : withoutContentType(s.headers),
    bodyFile: s.bodyFile,
    contentType: s.headers['Content-Type'],
  };
}

function withoutContentType(h: Record<string, string>): Record<string, string> {
  const { 'Content-Type': _, ...rest } = h;
  return rest;
}

async function maxRun(s: Scenario): Promise<MaxRun> {
  return withServer(s, async (server) => {
    if (WARMUP > 0) await runWrk(wrkOptions(s, server.url, WARMUP));
    const cpu0 = server.cpuSeconds();
    const r = await runWrk(wrkOptions(s, server.url, SECONDS));
    const serverCpu = (server.cpuSeconds() - cpu0) / r.seconds;
    return { ...r, serverCpu, hwmMb: server.memory().hwmMb };
  });
}

async function latencyRun(s: Scenario, rate: number): Promise<LatencyRun> {
  return withServer(s, async (server) => {
    if (WARMUP > 0) await runWrk(wrkOptions(s, server.url, WARMUP));
    const cpu0 = server.cpuSeconds();
    const t0 = performance.now();
    const r = await runFixedRate({
      url: `${server.url}${s.path}`,
      connections: s.connections,
      seconds: LATENCY_SECONDS,
      rate,
      core: GEN_CORE,
      method: s.bodyFile === undefined ? 'GET' : 'POST',
      headers: s.headers,
      bodyFile: s.bodyFile,
    });
    const serverCpu = (server.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
    return { ...r, targetRate: rate, serverCpu, hwmMb: server.memory().hwmMb };
  });
}

const started = Date.now();
const m0 = machineInfo();
console.log(`# bench/collector — ${new Date().toISOString()}`);
console.log(
  `node ${m0.node}, kernel ${m0.kernel}, ${m0.cores} × ${m0.cpu}; server on core ${SERVER_CORE}, generator on core ${GEN_CORE}${hasTaskset() ? '' : ' (NO taskset: unpinned)'}`,
);
console.log(
  `load average at start (1/5/15 min): ${formatLoad(m0.loadavg)}; ${REPS} × ${SECONDS} s per scenario, warm-up ${WARMUP} s`,
);

const max = new Map<string, MaxRun[]>(SCENARIOS.map((s) => [s.name, []]));
for (let rep = 1; rep <= REPS; rep++) {
  for (const s of SCENARIOS) {
    const r = await maxRun(s);
    max.get(s.name)?.push(r);
    process.stderr.write(
      `rep ${rep} ${s.name.padEnd(10)} ${fmtInt(r.rps).padStart(7)} req/s  p50 ${fmtMs(r.p50Ms)} ms  p99 ${fmtMs(r.p99Ms)} ms  server ${fmt2(r.serverCpu)} core  wrk ${fmt2(r.genCpu)} core  non-2xx ${r.non2xx}  VmHWM ${fmt1(r.hwmMb)} MB\n`,
    );
  }
}

const baseMedian = summarize((max.get('baseline') ?? []).map((r) => r.rps)).median;
/** server CPU per request in µs: less sensitive than req/s to a core shared with other work */
const cpuUs = (r: MaxRun) => (r.serverCpu / r.rps) * 1e6;
const baseCpuUs = summarize((max.get('baseline') ?? []).map(cpuUs)).median;
/** each scenario's fixed-rate runs, one per repetition, interleaved like the maximum-rate runs */
const latency = new Map<string, LatencyRun[]>();
const latencyOnly: Scenario[] = [];
// The same POSTs against the bare server at the durable POST's rate: what the generator and node:http
// alone give for p99 at 200 connections (the target compares against an absolute 20 ms).
const postScenario = SCENARIOS.find((x) => x.name === 'post-fsync');
if (postScenario !== undefined)
  latencyOnly.push({
    ...postScenario,
    name: 'baseline-post',
    what: 'bare node:http, the same POSTs (latency reference)',
    start: () => startBaseline({ core: SERVER_CORE }),
    target: undefined,
    latencyTarget: false,
    rateOf: postScenario.name,
  });
const halfRate = (name: string) => summarize((max.get(name) ?? []).map((r) => r.rps)).median / 2;
for (let rep = 1; rep <= REPS; rep++) {
  for (const s of [...SCENARIOS, ...latencyOnly]) {
    const rate = halfRate(s.rateOf ?? s.name);
    if (!Number.isFinite(rate) || rate <= 0) continue;
    const r = await latencyRun(s, rate);
    latency.set(s.name, [...(latency.get(s.name) ?? []), r]);
    process.stderr.write(
      `latency rep ${rep} ${s.name.padEnd(10)} @${fmtInt(rate)} req/s: achieved ${fmtInt(r.rps)}  p50 ${fmtMs(r.p50Ms)}  p99 ${fmtMs(r.p99Ms)}  p99.9 ${fmtMs(r.p999Ms)} ms  gen ${fmt2(r.genCpu)} core\n`,
    );
  }
}
const m1 = machineInfo();

// ---- report ----
const checks: Check[] = [];
const rows: string[][] = [];
const repRows: string[][] = [];
for (const s of SCENARIOS) {
  const runs = max.get(s.name) ?? [];
  const rps = summarize(runs.map((r) => r.rps));
  const ratio = summarize(runs.map((r) => r.rps / baseMedian));
  const hwm = Math.max(...runs.map((r) => r.hwmMb));
  const gen = summarize(runs.map((r) => r.genCpu));
  const non2xx = runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0);
  rows.push([
    s.name,
    String(s.connections),
    fmtRange(rps, fmtInt),
    fmtInt(rps.median * s.eventsPerRequest),
    s.name === 'baseline'
      ? '1.00×'
      : `${fmt2(rps.median / baseMedian)}× (${fmt2(ratio.min)}–${fmt2(ratio.max)})`,
    s.target === undefined ? '' : `≥ ${s.target}×`,
    fmtMs(summarize(runs.map((r) => r.p50Ms)).median),
    fmtMs(summarize(runs.map((r) => r.p99Ms)).median),
    fmt2(summarize(runs.map((r) => r.serverCpu)).median),
    fmt1(summarize(runs.map(cpuUs)).median),
    `${fmt2(baseCpuUs / summarize(runs.map(cpuUs)).median)}×`,
    `${fmt2(gen.median)}${gen.max > 0.9 ? ' (generator-bound)' : ''}`,
    String(non2xx),
    fmt1(hwm),
  ]);
  repRows.push([s.name, s.what, ...runs.map((r) => fmtInt(r.rps))]);
  if (s.target !== undefined)
    checks.push({
      what: `${s.name} ≥ ${s.target}× baseline`,
      ok: rps.median / baseMedian >= s.target,
      detail: `${fmt2(rps.median / baseMedian)}×`,
    });
  if (s.name !== 'baseline') {
    checks.push({ what: `${s.name} peak RSS < 300 MB`, ok: hwm < 300, detail: `${fmt1(hwm)} MB` });
    checks.push({ what: `${s.name} no non-2xx / socket errors`, ok: non2xx === 0, detail: String(non2xx) });
  }
}
const latRows: string[][] = [];
for (const s of [...SCENARIOS, ...latencyOnly]) {
  const runs = latency.get(s.name);
  if (runs === undefined || runs.length === 0) continue;
  const med = (f: (r: LatencyRun) => number) => summarize(runs.map(f)).median;
  const p99 = summarize(runs.map((r) => r.p99Ms));
  const gen = summarize(runs.map((r) => r.genCpu));
  latRows.push([
    s.name,
    String(s.connections),
    fmtInt(runs[0].targetRate),
    fmtInt(med((r) => r.rps)),
    fmtMs(med((r) => r.p50Ms)),
    fmtMs(med((r) => r.p90Ms)),
    `${fmtMs(p99.median)} (${fmtMs(p99.min)}–${fmtMs(p99.max)})`,
    fmtMs(med((r) => r.p999Ms)),
    fmtMs(Math.max(...runs.map((r) => r.maxMs))),
    fmt2(med((r) => r.serverCpu)),
    `${fmt2(gen.median)}${gen.max > 0.9 ? ' (generator-bound)' : ''}`,
    fmtInt(med((r) => r.lateSends)),
    String(runs.reduce((a, r) => a + r.non2xx + r.errors + r.timeouts, 0)),
  ]);
  if (s.latencyTarget)
    checks.push({
      what: `${s.name} p99 < 20 ms at half max rate (median of ${runs.length})`,
      ok: p99.median < 20,
      detail: `${fmtMs(p99.median)} ms (${fmtMs(p99.min)}–${fmtMs(p99.max)})`,
    });
}

console.log(
  `\n## Maximum rate (wrk -t1, closed loop), ${REPS} interleaved repetitions × ${SECONDS} s: median (min–max)\n`,
);
console.log(
  markdownTable(
    [
      'scenario',
      'conns',
      'req/s',
      'events/s',
      'ratio to baseline',
      'target',
      'p50 ms',
      'p99 ms',
      'server CPU',
      'server µs/req',
      'CPU-cost ratio',
      'wrk CPU',
      'non-2xx',
      'peak RSS MB',
    ],
    rows,
  ),
);
console.log(`\n### Repetitions (req/s)\n`);
console.log(
  markdownTable(['scenario', 'what', ...Array.from({ length: REPS }, (_, i) => `r${i + 1}`)], repRows),
);
console.log(
  `\n## Fixed rate at half the median maximum (bench/lib/fixed-rate.ts, open loop, ${REPS} interleaved repetitions × ${LATENCY_SECONDS} s, latency from each request's due time): median; p99 also min–max\n`,
);
console.log(
  markdownTable(
    [
      'scenario',
      'conns',
      'target req/s',
      'achieved',
      'p50 ms',
      'p90 ms',
      'p99 ms (min–max)',
      'p99.9 ms',
      'max ms (all reps)',
      'server CPU',
      'gen CPU',
      'sent > 2 ms late',
      'errors',
    ],
    latRows,
  ),
);
printTargets(checks, m1.loadavg, started, '## Targets (spec performance.md §3.2)');

writeJsonReport(values.json, {
  bench: 'collector',
  at: new Date(started).toISOString(),
  machine: { ...m0, loadavgEnd: m1.loadavg },
  seconds: SECONDS,
  reps: REPS,
  baselineMedianRps: baseMedian,
  scenarios: SCENARIOS.map((s) => ({
    name: s.name,
    what: s.what,
    connections: s.connections,
    eventsPerRequest: s.eventsPerRequest,
    runs: (max.get(s.name) ?? []).map(({ raw: _, ...r }) => r),
    latency: latency.get(s.name),
  })),
  latencyReferences: latencyOnly.map((s) => ({
    name: s.name,
    what: s.what,
    latency: latency.get(s.name),
  })),
  checks,
});
rmSync(work, { recursive: true, force: true });
if (values.gate && checks.some((c) => !c.ok)) process.exitCode = 1;
