/**
 * bench/distributed-e2e: distributed mode end to end per stream engine — tracker-style POSTs →
 * `furrow collector` → engine → `furrow enrich` (one process, `--workers` threads) → engine →
 * `furrow load` → PostgreSQL — at a fixed offered rate, reporting sustained throughput, request→row
 * latency and the loss/duplicate check (the issue's target: p95 < 5 s at 5,000 events/s per engine).
 *
 *     npx tsc -p . && node dist/bench/distributed-e2e.js [--engines kafka,nats,pubsub] [--rate 5000]
 *         [--seconds 10] [--batch 10] [--workers 2] [--profile DIR] [--json results.json] [--gate]
 *
 * Per engine: the three roles as separate processes from this build, sharing one config file (streams
 * under a fresh prefix, the loader into a fresh schema of the `test` database on 127.0.0.1:5432, see
 * PG* variables); a warm-up; then `--seconds` of open-loop traffic (bench/lib/open-loop.ts: a POST of
 * `--batch` events every batch/rate seconds whatever the server does, the scheduled send time in
 * `dtm`); then the bench waits until the loader has loaded every acknowledged event (its
 * `furrow_events_total{stage="loader"}` counter), SIGTERMs the roles and reads PostgreSQL:
 * request→row latency = `load_tstamp − dvce_created_tstamp` per event, split at `collector_tstamp`;
 * rows == acknowledged events, every acknowledged event id present, no duplicate event id. The schema
 * and the streams are deleted afterwards (`--keep` leaves them).
 *
 * Needs the services of the machine: PostgreSQL, and per engine NATS (4222), Kafka (9092) or the
 * Pub/Sub emulator (PUBSUB_EMULATOR_HOST, default 127.0.0.1:8085); an engine that does not answer is
 * skipped with the reason.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createStreamEngine } from '../src/streams/registry.js';
import { metric } from '../test/helpers/distributed.js';
import { hostPortOpen } from '../test/helpers/net.js';
import { postgresSettings } from '../test/helpers/services.js';
import { OpenLoopGenerator, type StepResult } from './lib/open-loop.js';
import { TP2_PATH } from './lib/payloads.js';
import { cpuOf, defaultSchemasDir, formatLoad, machineInfo, pidsMatching } from './lib/proc.js';
import { type Check, printTargets, writeJsonReport } from './lib/report.js';
import { type Server, startFurrow } from './lib/servers.js';
import { fmt1, fmtInt, fmtMs, markdownTable } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: 'kafka,nats,pubsub' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: '2' },
    'catchup-timeout': { type: 'string', default: '30' },
    'target-p95': { type: 'string', default: '5000' },
    /** write a V8 CPU profile of every role process into this directory (--cpu-prof) */
    profile: { type: 'string' },
    schemas: { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
    gate: { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BATCH = Number(values.batch);
const CATCHUP_S = Number(values['catchup-timeout']);
const TARGET_P95 = Number(values['target-p95']);
const SCHEMAS = values.schemas ?? defaultSchemasDir();
const PUBSUB_HOST = process.env.PUBSUB_EMULATOR_HOST || '127.0.0.1:8085';
const PG = postgresSettings();

interface EngineSetup {
  /** host:port that must answer */
  address: string;
  options(run: string): Record<string, unknown>;
  env: NodeJS.ProcessEnv;
}

/** how the engine's server process shows in `ps` on this machine (scripts/dev-services.sh starts them) */
const ENGINE_PROCESS: Record<string, RegExp> = {
  kafka: /kafka\.Kafka/,
  nats: /nats-server/,
  pubsub: /cloud-pubsub-emulator/,
};

const ENGINES: Record<string, EngineSetup> = {
  kafka: {
    address: '127.0.0.1:9092',
    options: (run) => ({ brokers: ['127.0.0.1:9092'], topicPrefix: `bench-dist-${run}-`, partitions: 4 }),
    env: {},
  },
  nats: {
    address: '127.0.0.1:4222',
    options: (run) => ({
      servers: ['nats://127.0.0.1:4222'],
      streamPrefix: `bench-dist-${run}-`,
      subjectPrefix: `bench-dist-${run}`,
    }),
    env: {},
  },
  pubsub: {
    address: PUBSUB_HOST,
    options: (run) => ({ projectId: 'furrow-bench', topicPrefix: `bench-dist-${run}-` }),
    env: { PUBSUB_EMULATOR_HOST: PUBSUB_HOST, METADATA_SERVER_DETECTION: 'none' },
  },
};

interface EngineResult {
  engine: string;
  skipped?: string;
  step?: StepResult;
  startupSeconds?: number;
  loadedRateDuring?: number;
  maxBacklog?: number;
  catchupSeconds?: number;
  caughtUp?: boolean;
  /** acknowledged events of the step ÷ (send time + catch-up time) */
  sustainedEps?: number;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  collectorP95Ms?: number;
  pipelineP95Ms?: number;
  totalAcked?: number;
  totalRows?: number;
  totalDistinct?: number;
  missing?: number;
  unexpected?: number;
  badRows?: number;
  loaderDuplicates?: number;
  cpuUsPerEvent?: Record<string, number>;
  exitCodes?: Record<string, number | null>;
  log?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const loadedCount = (loader: Server) =>
  metric(loader.url, 'furrow_events_total', { stage: 'loader', outcome: 'loaded' });

async function deleteStreams(kind: string, options: Record<string, unknown>, run: string): Promise<void> {
  const names = ['raw', 'enriched', 'bad'];
  if (kind === 'kafka') {
    const { Admin } = await import('@platformatic/kafka');
    const admin = new Admin({ clientId: 'furrow-bench-cleanup', bootstrapBrokers: ['127.0.0.1:9092'] });
    try {
      await admin.deleteTopics({ topics: names.map((n) => `bench-dist-${run}-${n}`) });
    } finally {
      await admin.close().catch(() => undefined);
    }
    return;
  }
  if (kind === 'pubsub') process.env.PUBSUB_EMULATOR_HOST = PUBSUB_HOST;
  const engine = (await createStreamEngine(kind, options, {
    dataDir: tmpdir(),
    durability: 'fsync',
  })) as unknown as {
    deleteStream(name: string): Promise<void>;
    close(): Promise<void>;
  };
  try {
    for (const n of names) await engine.deleteStream(n).catch(() => undefined);
  } finally {
    await engine.close();
  }
}

async function runEngine(kind: string, work: string): Promise<EngineResult> {
  const setup = ENGINES[kind];
  if (setup === undefined) return { engine: kind, skipped: 'unknown engine' };
  if (!(await hostPortOpen(setup.address)))
    return { engine: kind, skipped: `nothing answers on ${setup.address}` };
  const run = randomUUID().slice(0, 8);
  const schema = `bench_dist_${kind}_${run}`;
  const options = setup.options(run);
  const config = join(work, `${kind}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      streams: { [kind]: options },
      warehouse: { postgres: { ...PG, schema } },
      enrich: { workers: Number(values.workers) },
      shutdown: { preTerminationMs: 0, drainDeadlineMs: 60_000 },
      micro: { enabled: false },
    }),
  );
  const role = (name: string) => [
    name,
    `--config=${config}`,
    `--streams=${kind}`,
    '--warehouse=postgres',
    '--host=127.0.0.1',
    '--port=0',
    `--data-dir=${join(work, `${kind}-${name}`)}`,
    `--schemas=${SCHEMAS}`,
    '--log-level=warn',
  ];
  const env = { ...setup.env };
  const nodeArgs =
    values.profile !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${join(values.profile, kind)}`] : [];
  const db = new pg.Pool({ ...PG, max: 2 });
  db.on('error', () => undefined);
  const procs: Record<string, Server> = {};
  const result: EngineResult = { engine: kind };
  const t0 = performance.now();
  try {
    // the collector first: it creates the streams the others read
    procs.collector = await startFurrow(role('collector'), { env, nodeArgs });
    [procs.enrich, procs.load] = await Promise.all([
      startFurrow(role('enrich'), { env, nodeArgs }),
      startFurrow(role('load'), { env, nodeArgs }),
    ]);
    result.startupSeconds = (performance.now() - t0) / 1000;
    const gen = new OpenLoopGenerator(new URL(`${procs.collector.url}${TP2_PATH}`), {
      connections: Number(values.connections),
    });
    const loader = procs.load;
    try {
      // warm-up: schema resolution, worker JIT, the loader's table creation
      await gen.warmUp(50, BATCH, `dist-${kind}-warmup`);
      const wEnd = performance.now() + 60_000;
      while ((await loadedCount(loader)) < gen.acked.size && performance.now() < wEnd) await sleep(100);

      let maxBacklog = 0;
      let polling = false;
      const loaded0 = await loadedCount(loader);
      const cpu0 = Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, p.cpuSeconds()]));
      // the engine's own server and PostgreSQL share the machine: their CPU shows what bounds the step
      const servicePids = { engine: pidsMatching(ENGINE_PROCESS[kind]), postgres: pidsMatching(/^postgres/) };
      const svc0 = { engine: cpuOf(servicePids.engine), postgres: cpuOf(servicePids.postgres) };
      const s0 = performance.now();
      let last = { t: s0, loaded: loaded0 };
      const step = await gen.run({
        rate: RATE,
        seconds: SECONDS,
        batch: BATCH,
        tag: `dist-${kind}-${RATE}`,
        onTick: () => {
          if (polling) return;
          polling = true;
          loadedCount(loader)
            .then((n) => {
              last = { t: performance.now(), loaded: n };
              maxBacklog = Math.max(maxBacklog, gen.acked.size - n);
            })
            .catch(() => undefined)
            .finally(() => {
              polling = false;
            });
        },
      });
      const sendEnd = s0 + step.sendSeconds * 1000;
      result.step = step;
      result.loadedRateDuring = (last.loaded - loaded0) / ((last.t - s0) / 1000);
      let loaded = await loadedCount(loader);
      const deadline = performance.now() + CATCHUP_S * 1000;
      while (loaded < gen.acked.size && performance.now() < deadline) {
        await sleep(100);
        loaded = await loadedCount(loader);
      }
      result.caughtUp = loaded >= gen.acked.size;
      result.catchupSeconds = Math.max(0, (performance.now() - sendEnd) / 1000);
      result.maxBacklog = maxBacklog;
      result.sustainedEps = step.eventsAcked / (step.sendSeconds + result.catchupSeconds);
      // CPU per event of the step, per role: from the step's start until the loader caught up
      result.cpuUsPerEvent = {};
      for (const [name, p] of Object.entries(procs))
        result.cpuUsPerEvent[name] = ((p.cpuSeconds() - cpu0[name]) / Math.max(1, step.eventsAcked)) * 1e6;
      for (const name of ['engine', 'postgres'] as const)
        result.cpuUsPerEvent[name] =
          ((cpuOf(servicePids[name]) - svc0[name]) / Math.max(1, step.eventsAcked)) * 1e6;
      result.totalAcked = gen.acked.size;
      result.loaderDuplicates = await metric(loader.url, 'furrow_events_total', {
        stage: 'loader',
        outcome: 'duplicate',
      });
    } finally {
      gen.close();
    }
    result.exitCodes = {};
    for (const name of ['collector', 'enrich', 'load'])
      result.exitCodes[name] = await procs[name].stop(90_000);

    // ---- the warehouse ----
    const tag = `dist-${kind}-${RATE}`;
    const ms = (a: string, b: string) => `extract(epoch from (${a} - ${b})) * 1000`;
    const q = await db.query(
      `select count(*)::int as n, count(distinct event_id)::int as d,
              percentile_cont(array[0.5, 0.95, 0.99]) within group (order by ${ms('load_tstamp', 'dvce_created_tstamp')}) as q,
              max(${ms('load_tstamp', 'dvce_created_tstamp')}) as mx,
              percentile_cont(0.95) within group (order by ${ms('collector_tstamp', 'dvce_created_tstamp')}) as c95,
              percentile_cont(0.95) within group (order by ${ms('load_tstamp', 'collector_tstamp')}) as p95
         from "${schema}".events where app_id = $1`,
      [tag],
    );
    const row = q.rows[0] ?? {};
    const quant = (row.q as number[] | null) ?? [];
    result.p50Ms = Number(quant[0]);
    result.p95Ms = Number(quant[1]);
    result.p99Ms = Number(quant[2]);
    result.maxMs = Number(row.mx);
    result.collectorP95Ms = Number(row.c95);
    result.pipelineP95Ms = Number(row.p95);
    const ids = await db.query<{ e: string }>(`select event_id::text as e from "${schema}".events`);
    result.totalRows = ids.rows.length;
    const present = new Set(ids.rows.map((r) => r.e));
    result.totalDistinct = present.size;
    const acked = gen.acked;
    result.missing = 0;
    for (const id of acked) if (!present.has(id)) result.missing++;
    result.unexpected = 0;
    for (const id of present) if (!acked.has(id)) result.unexpected++;
    const bad = await db
      .query<{ n: number }>(`select count(*)::int as n from "${schema}".bad_rows`)
      .catch(() => ({ rows: [{ n: Number.NaN }] }));
    result.badRows = bad.rows[0]?.n ?? 0;
  } catch (e) {
    result.skipped = `failed: ${(e as Error).message}`;
    result.log = Object.entries(procs)
      .map(([n, p]) => `--- ${n} ---\n${p.log().slice(-3000)}`)
      .join('\n');
  } finally {
    await Promise.all(Object.values(procs).map((p) => p.stop(30_000).catch(() => undefined)));
    if (!values.keep) {
      await db.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
      await deleteStreams(kind, options, run).catch((e) =>
        process.stderr.write(`${kind}: deleting the streams failed: ${(e as Error).message}\n`),
      );
    }
    await db.end().catch(() => undefined);
  }
  return result;
}

const started = Date.now();
const m0 = machineInfo();
console.log(`# bench/distributed-e2e — ${new Date().toISOString()}`);
console.log(
  `node ${m0.node}, kernel ${m0.kernel}, ${m0.cores} × ${m0.cpu}; collector, enrich (${values.workers} workers) and loader as separate processes, unpinned`,
);
console.log(
  `load average at start (1/5/15 min): ${formatLoad(m0.loadavg)}; ${fmtInt(RATE)} events/s offered for ${SECONDS} s in batches of ${BATCH}, PostgreSQL ${PG.host}:${PG.port}/${PG.database}`,
);
// the Generator and the roles write to one PostgreSQL / engine each; engines run one after the other
const work = mkdtempSync(join(tmpdir(), 'furrow-bench-dist-'));
const results: EngineResult[] = [];
try {
  for (const kind of String(values.engines).split(',')) {
    const t = performance.now();
    const r = await runEngine(kind, work);
    results.push(r);
    const s = r.step;
    process.stderr.write(
      r.skipped !== undefined
        ? `${kind}: ${r.skipped}\n`
        : `${kind}: acked ${fmtInt(s?.eventsAcked ?? 0)}, loaded ${fmtInt(r.loadedRateDuring ?? 0)} ev/s during, catch-up ${fmt1(r.catchupSeconds ?? 0)} s, p95 ${fmtInt(r.p95Ms ?? Number.NaN)} ms (${fmt1((performance.now() - t) / 1000)} s in all)\n`,
    );
    if (r.log !== undefined) process.stderr.write(`${r.log}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const m1 = machineInfo();

const done = results.filter((r) => r.skipped === undefined && r.step !== undefined);
console.log(`\n## ${fmtInt(RATE)} events/s offered for ${SECONDS} s, open loop (latencies in ms)\n`);
console.log(
  markdownTable(
    [
      'engine',
      'sent ev/s',
      'loaded ev/s during',
      'sustained ev/s',
      'max backlog',
      'catch-up s',
      'ack p50 / p99',
      'request→row p50 / p95 / p99',
      'p95 send→collector / collector→row',
      'acked',
      'rows',
      'dup',
      'missing',
      'not acked',
      'CPU µs/event collector / enrich / load',
      'CPU µs/event engine server / PostgreSQL',
    ],
    done.map((r) => {
      const s = r.step!;
      const cpu = r.cpuUsPerEvent ?? {};
      return [
        r.engine,
        fmtInt((s.eventsAcked + s.eventsFailed) / s.sendSeconds),
        fmtInt(r.loadedRateDuring ?? Number.NaN),
        fmtInt(r.sustainedEps ?? Number.NaN),
        fmtInt(r.maxBacklog ?? Number.NaN),
        `${fmt1(r.catchupSeconds ?? Number.NaN)}${r.caughtUp ? '' : ' (not caught up)'}`,
        `${fmtMs(s.ackP50Ms)} / ${fmtMs(s.ackP99Ms)}`,
        `${fmtInt(r.p50Ms ?? Number.NaN)} / ${fmtInt(r.p95Ms ?? Number.NaN)} / ${fmtInt(r.p99Ms ?? Number.NaN)}`,
        `${fmtInt(r.collectorP95Ms ?? Number.NaN)} / ${fmtInt(r.pipelineP95Ms ?? Number.NaN)}`,
        fmtInt(s.eventsAcked),
        fmtInt(r.totalRows ?? Number.NaN),
        String((r.totalRows ?? 0) - (r.totalDistinct ?? 0)),
        String(r.missing ?? Number.NaN),
        String(s.eventsFailed + s.requestsNotSent * BATCH),
        `${fmtInt(cpu.collector ?? Number.NaN)} / ${fmtInt(cpu.enrich ?? Number.NaN)} / ${fmtInt(cpu.load ?? Number.NaN)}`,
        `${fmtInt(cpu.engine ?? Number.NaN)} / ${fmtInt(cpu.postgres ?? Number.NaN)}`,
      ];
    }),
  ),
);
console.log(
  '\n"sustained": acknowledged events of the step ÷ (send time + time until the loader caught up). "CPU µs/event": CPU of each process (all threads) from the start of the step until the loader caught up ÷ the acknowledged events; "engine server" is the broker process on this machine (Kafka, nats-server, the Pub/Sub emulator), "PostgreSQL" all postgres processes. rows/dup/missing count the whole run (warm-up included).',
);
for (const r of results)
  if (r.skipped !== undefined) console.log(`\n- ${r.engine}: skipped (${r.skipped.split('\n')[0]})`);

const checks: Check[] = [];
for (const r of done) {
  checks.push({
    what: `${r.engine}: p95 request→row < ${fmtInt(TARGET_P95)} ms at ${fmtInt(RATE)} events/s`,
    ok: (r.p95Ms ?? Number.POSITIVE_INFINITY) < TARGET_P95,
    detail: `${fmtInt(r.p95Ms ?? Number.NaN)} ms`,
  });
  checks.push({
    what: `${r.engine}: the loader caught up within ${CATCHUP_S} s after sending stopped`,
    ok: r.caughtUp === true,
    detail: `${fmt1(r.catchupSeconds ?? Number.NaN)} s`,
  });
  checks.push({
    what: `${r.engine}: every acknowledged event loaded (no loss)`,
    ok: r.missing === 0,
    detail:
      `${fmtInt(r.totalAcked ?? 0)} acknowledged, ${r.missing} not in PostgreSQL after the SIGTERM drain` +
      (r.caughtUp || r.missing === 0
        ? ''
        : ' (the pipeline had not caught up: they were still in the streams, which the bench then deleted; rerun with a longer --catchup-timeout to tell backlog from loss)'),
  });
  checks.push({
    what: `${r.engine}: no duplicates (rows == distinct event_id == acknowledged)`,
    ok: r.totalRows === r.totalDistinct && (r.totalRows === r.totalAcked || r.missing !== 0),
    detail: `${fmtInt(r.totalRows ?? 0)} rows, ${fmtInt(r.totalDistinct ?? 0)} distinct, ${fmtInt(r.totalAcked ?? 0)} acknowledged (${r.unexpected} rows never acknowledged, ${r.loaderDuplicates} replays dropped by the loader, ${r.badRows} bad rows)`,
  });
  const codes = Object.entries(r.exitCodes ?? {});
  checks.push({
    what: `${r.engine}: every role exits 0 on SIGTERM`,
    ok: codes.every(([, c]) => c === 0),
    detail: codes.map(([n, c]) => `${n} ${c}`).join(', '),
  });
}
printTargets(checks, m1.loadavg, started);
writeJsonReport(values.json, {
  bench: 'distributed-e2e',
  at: new Date(started).toISOString(),
  machine: { ...m0, loadavgEnd: m1.loadavg },
  rate: RATE,
  seconds: SECONDS,
  batch: BATCH,
  results: results.map(({ log: _, ...r }) => r),
  checks,
});
if (values.gate && (checks.some((c) => !c.ok) || done.length === 0)) process.exitCode = 1;
process.exit();
