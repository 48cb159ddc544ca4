/**
 * Distributed mode as an operator runs it, for `test/distributed-e2e.test.ts`: one `furrow` process per role
 * (`collector`, `enrich`, `load`) against a real stream engine (NATS JetStream, the Pub/Sub emulator, Kafka)
 * and PostgreSQL; the official node tracker as the traffic source; the warehouse read back with `pg`; and
 * the servers themselves stopped and restarted for the fault tests (always left running).
 *
 * The roles run from the same build as the test (`<outDir>/src/cli/main.js`, found relative to this file),
 * so `npx tsc --outDir X && node --test X/test/distributed-e2e.test.js` tests exactly what was compiled.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  buildPageView,
  buildSelfDescribingEvent,
  buildStructEvent,
  newTracker,
  type Tracker,
} from '@snowplow/node-tracker';
import pg from 'pg';
import { queryWarehouse } from './duckdb.js';
import { killFurrow, stopFurrow } from './furrow-process.js';
import {
  ensureNats,
  killAndWait,
  killNats,
  NATS_URL,
  natsRestartUnsupported,
  natsUnavailable,
} from './nats-server.js';
import { tcpOpen } from './net.js';
import { postgresSettings } from './services.js';

const execFileP = promisify(execFile);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The CLI entry point of the build this file belongs to. */
const MAIN_JS = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/**
 * What `bin/furrow.js` does, pointed at this build. A CommonJS `-e` script with a dynamic import: with
 * `--input-type=module` in `process.execArgv`, the enrich worker threads (which inherit execArgv) never start.
 */
const LAUNCHER = `import(${JSON.stringify(pathToFileURL(MAIN_JS).href)}).then(({ main }) => main(process.argv.slice(1))).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write('furrow: ' + (err instanceof Error ? err.message : String(err)) + '\\n'); process.exitCode = 1; },
);`;
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** Skip with the reason printed; under CI=true a missing service is a failure instead. */
export function skipUnless(t: TestContext, why: string | undefined): boolean {
  if (why === undefined) return true;
  if (process.env.CI === 'true') assert.fail(`${why}; CI must run this test`);
  process.stderr.write(`skipping "${t.name}": ${why}\n`);
  t.skip(why);
  return false;
}

export function log(msg: string): void {
  process.stdout.write(`# ${msg}\n`);
}

export { tcpOpen } from './net.js';

// ---- role processes ----------------------------------------------------------------------------------

/** `furrow <args>` from this build; stderr piped, stdout ignored. */
export function spawnFurrow(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['-e', LAUNCHER, ...args], {
    env: { ...process.env, FURROW_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export interface RoleProcess {
  readonly name: string;
  readonly role: string;
  readonly child: ChildProcess;
  readonly base: string;
  /** the process's stderr so far (bounded), for failure messages */
  output(): string;
}

/**
 * Starts `furrow <role>` with `--key=value` flags and resolves once it prints `listening on`.
 * Flags are passed in the `=` form: `furrow enrich --config FILE` (space form) is taken for offline
 * mode with FILE as input, see the defect note in docs/distributed.md.
 */
export async function startRole(
  name: string,
  role: 'collector' | 'enrich' | 'load' | 'up',
  flags: Record<string, string | number>,
  env: NodeJS.ProcessEnv = {},
): Promise<RoleProcess> {
  const args = [role, ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`)];
  const child = spawnFurrow(args, env);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} (furrow ${role}) did not start within 120 s: ${stderr.slice(-2000)}`));
    }, 120_000);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} (furrow ${role}) exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0)
      log(`${name} exited unexpectedly (${code ?? signal}): ${stderr.slice(-1500)}`);
  });
  return { name, role, child, base, output: () => stderr };
}

export const stopRole = (p: RoleProcess) => stopFurrow(p.child, 60_000);
export const killRole = (p: RoleProcess) => killFurrow(p.child);

/** The value of one Prometheus sample, e.g. `furrow_events_total{stage="enrich",outcome="good"}`; 0 if absent. */
export async function metric(
  base: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const kv of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(kv[1], kv[2]);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

export const enrichedGood = (p: RoleProcess) =>
  metric(p.base, 'furrow_events_total', { stage: 'enrich', outcome: 'good' });

// ---- tracker traffic -----------------------------------------------------------------------------------

export interface TrackerClient {
  /** event ids the collector answered 200 for */
  readonly acked: Set<string>;
  /** every event id tracked */
  readonly tracked: Set<string>;
  readonly failures: { status?: number; willRetry: boolean }[];
  track(kind: number, i: number): void;
  /** flushes until every tracked event is acknowledged (or finally failed), bounded */
  settle(timeoutMs?: number): Promise<void>;
}

const WEB_PAGE = 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0';
const LINK_CLICK = 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1';

/** A deterministic id per index, so two runs of the same scenario carry the same context values. */
function pageId(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

/** An official node tracker sending to the collector; `kind` picks one of three event shapes. */
export function trackerClient(port: number, appId: string, method: 'post' | 'get'): TrackerClient {
  const acked = new Set<string>();
  const tracked = new Set<string>();
  const failed = new Set<string>();
  const failures: { status?: number; willRetry: boolean }[] = [];
  const tracker: Tracker = newTracker(
    { namespace: `ns-${appId}`, appId, encodeBase64: method === 'get' },
    {
      endpoint: '127.0.0.1',
      port,
      protocol: 'http',
      eventMethod: method,
      bufferSize: method === 'post' ? 5 : 1,
      connectionTimeout: 10_000,
      onRequestSuccess: (batch) => {
        for (const p of batch) if (typeof p.eid === 'string') acked.add(p.eid);
      },
      onRequestFailure: (f) => {
        failures.push({ status: f.status, willRetry: f.willRetry });
        if (!f.willRetry) for (const p of f.events) if (typeof p.eid === 'string') failed.add(p.eid);
      },
    },
  );
  tracker.setDomainUserId(`duid-${appId}`);
  return {
    acked,
    tracked,
    failures,
    track(kind, i) {
      let payload: Record<string, unknown> | undefined;
      if (kind === 0) {
        payload = tracker.track(
          buildPageView({
            pageUrl: `https://shop.example.com/p/${i}?utm_source=news&utm_medium=email&utm_campaign=c${i % 7}#top`,
            pageTitle: `Page ${i}`,
            referrer: `https://www.example.org/ref/${i % 3}`,
          }),
          [{ schema: WEB_PAGE, data: { id: pageId(i) } }],
        );
      } else if (kind === 1) {
        payload = tracker.track(
          buildStructEvent({
            category: 'shop',
            action: i % 2 === 0 ? 'add' : 'remove',
            label: `sku-${i}`,
            property: 'colour',
            value: i + 0.25,
          }),
        );
      } else {
        payload = tracker.track(
          buildSelfDescribingEvent({
            event: { schema: LINK_CLICK, data: { targetUrl: `https://t.example/${i}`, elementId: `el${i}` } },
          }),
          [{ schema: WEB_PAGE, data: { id: pageId(i) } }],
        );
      }
      if (typeof payload?.eid === 'string') tracked.add(payload.eid);
    },
    async settle(timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        await tracker.flush();
        const done = [...tracked].every((id) => acked.has(id) || failed.has(id));
        if (done) return;
        if (Date.now() > end)
          throw new Error(
            `tracker ${appId}/${method}: ${tracked.size - acked.size - failed.size} events neither acknowledged nor failed`,
          );
        await sleep(200);
      }
    },
  };
}

/** The fixed scenario compared with `furrow up`: `n` events of each of the three shapes. */
export async function sendScenario(port: number, appId: string, method: 'post' | 'get', n: number) {
  const c = trackerClient(port, appId, method);
  for (let i = 0; i < n; i++) for (let kind = 0; kind < 3; kind++) c.track(kind, i);
  await c.settle();
  return c;
}

/**
 * Steady traffic (POST and GET trackers) until `stop()`: about `perTick` events every `tickMs`.
 * The event index keeps growing, so every event is distinct.
 */
export function startTraffic(port: number, appId: string, opts: { perTick?: number; tickMs?: number } = {}) {
  const post = trackerClient(port, `${appId}`, 'post');
  const get = trackerClient(port, `${appId}`, 'get');
  let running = true;
  let i = 0;
  const loop = (async () => {
    while (running) {
      for (let k = 0; k < (opts.perTick ?? 6); k++) {
        const c = k % 3 === 2 ? get : post;
        c.track(i % 3, i);
        i++;
      }
      await sleep(opts.tickMs ?? 100);
    }
  })();
  return {
    post,
    get,
    get acked(): Set<string> {
      return new Set([...post.acked, ...get.acked]);
    },
    get tracked(): Set<string> {
      return new Set([...post.tracked, ...get.tracked]);
    },
    async stop() {
      running = false;
      await loop;
      await Promise.all([post.settle(90_000), get.settle(90_000)]);
    },
  };
}

// ---- the warehouse ---------------------------------------------------------------------------------------

/** Columns compared between runs (no ids, no timestamps). */
export const COMPARED = [
  'app_id',
  'platform',
  'event',
  'name_tracker',
  'v_tracker',
  'domain_userid',
  'page_url',
  'page_urlhost',
  'page_urlpath',
  'page_urlquery',
  'page_urlfragment',
  'page_title',
  'page_referrer',
  'refr_urlhost',
  'refr_urlpath',
  'mkt_source',
  'mkt_medium',
  'mkt_campaign',
  'se_category',
  'se_action',
  'se_label',
  'se_property',
  'se_value',
  'event_vendor',
  'event_name',
  'event_format',
  'event_version',
  'useragent',
  'br_family',
  'os_family',
] as const;

export type Row = Record<string, unknown>;

function normalize(v: unknown): unknown {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** Rows as sorted JSON strings, comparable across warehouses. */
export function canonical(rows: readonly Row[]): string[] {
  return rows
    .map((r) =>
      JSON.stringify(
        [...COMPARED, 'unstruct_target', 'unstruct_element', 'web_page_id'].map((c) => normalize(r[c])),
      ),
    )
    .sort();
}

export class PgWarehouse {
  readonly pool: pg.Pool;
  constructor(readonly schema: string) {
    const s = postgresSettings();
    this.pool = new pg.Pool({ ...s, max: 2, connectionTimeoutMillis: 3000 });
    this.pool.on('error', () => {});
  }

  /** The `warehouse.postgres` block for the loader. */
  options(): Record<string, unknown> {
    const s = postgresSettings();
    return {
      host: s.host,
      port: s.port,
      user: s.user,
      password: s.password,
      database: s.database,
      schema: this.schema,
      maxDelayMs: 200,
      connectTimeoutMs: 3000,
    };
  }

  private async columns(): Promise<Set<string>> {
    const r = await this.pool.query<{ column_name: string }>(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [this.schema, 'events'],
    );
    return new Set(r.rows.map((x) => x.column_name));
  }

  /** The compared columns plus event_id of every row of these apps ([] while the table does not exist). */
  async rows(appIds: readonly string[]): Promise<Row[]> {
    const cols = await this.columns();
    if (cols.size === 0) return [];
    const lc = 'unstruct_event_com_snowplowanalytics_snowplow_link_click_1';
    const wp = 'contexts_com_snowplowanalytics_snowplow_web_page_1';
    const sql =
      `SELECT event_id::text AS event_id, ${COMPARED.join(', ')}, ` +
      `${cols.has(lc) ? `${lc}->>'targetUrl'` : 'NULL'} AS unstruct_target, ` +
      `${cols.has(lc) ? `${lc}->>'elementId'` : 'NULL'} AS unstruct_element, ` +
      `${cols.has(wp) ? `${wp}->0->>'id'` : 'NULL'} AS web_page_id ` +
      `FROM "${this.schema}".events WHERE app_id = ANY($1)`;
    return (await this.pool.query(sql, [appIds])).rows;
  }

  /**
   * Polls until every id in `ids` is loaded, then returns the apps' rows. Gives up at `timeoutMs`, or
   * earlier when no row arrived for `stallMs` (a stuck pipeline fails fast).
   */
  async waitFor(
    appIds: readonly string[],
    ids: ReadonlySet<string>,
    timeoutMs: number,
    stallMs = 30_000,
  ): Promise<Row[]> {
    const end = Date.now() + timeoutMs;
    let rows: Row[] = [];
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      try {
        rows = await this.rows(appIds);
      } catch {
        // PostgreSQL restarting: try again
      }
      const have = new Set(rows.map((r) => r.event_id as string));
      const missing = [...ids].filter((id) => !have.has(id));
      if (missing.length === 0) return rows;
      if (rows.length !== last) [last, lastChange] = [rows.length, Date.now()];
      const stalled = Date.now() - lastChange > stallMs;
      if (Date.now() > end || stalled) {
        throw new Error(
          `${missing.length} of ${ids.size} acknowledged events not in ${this.schema}.events ` +
            `${stalled ? `(no new row for ${stallMs} ms)` : `after ${timeoutMs} ms`} (e.g. ${missing.slice(0, 3).join(', ')})`,
        );
      }
      await sleep(500);
    }
  }

  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

/** Asserts that the rows are exactly the acknowledged events (plus, at most, unacknowledged tracked ones), once each. */
export function assertExactlyOnce(
  rows: readonly Row[],
  acked: ReadonlySet<string>,
  tracked: ReadonlySet<string>,
) {
  const count = new Map<string, number>();
  for (const r of rows) count.set(r.event_id as string, (count.get(r.event_id as string) ?? 0) + 1);
  const dup = [...count].filter(([, n]) => n > 1);
  assert.deepEqual(dup.slice(0, 5), [], `${dup.length} event ids loaded more than once`);
  const lost = [...acked].filter((id) => !count.has(id));
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${acked.size} acknowledged events lost`);
  const foreign = [...count.keys()].filter((id) => !tracked.has(id));
  assert.deepEqual(foreign.slice(0, 5), [], `${foreign.length} rows that no tracker sent`);
}

// ---- PostgreSQL server control -------------------------------------------------------------------------

function pgCluster(): string | undefined {
  try {
    const versions = readdirSync('/etc/postgresql');
    return versions.length === 1 ? versions[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Why the PostgreSQL stop/start fault cannot run here, if it cannot. */
export function pgRestartUnsupported(): string | undefined {
  const s = postgresSettings();
  if (!['127.0.0.1', 'localhost'].includes(s.host) || s.port !== 5432)
    return `PostgreSQL restart needs the local cluster on 127.0.0.1:5432 (PGHOST=${s.host}, PGPORT=${s.port})`;
  if (pgCluster() === undefined) return 'PostgreSQL restart needs exactly one version under /etc/postgresql';
  if (process.getuid?.() !== 0) return 'PostgreSQL restart needs root (pg_ctlcluster)';
  return undefined;
}

export async function pgCtl(action: 'start' | 'stop'): Promise<void> {
  const v = pgCluster();
  assert.ok(v, 'one PostgreSQL cluster under /etc/postgresql');
  await execFileP('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', action], {
    timeout: 60_000,
  }).catch((e: Error & { stderr?: string }) => {
    // "already running" / "not running" are fine; anything else is reported
    if (!/already running|is not running/i.test(`${e.stderr ?? ''}${e.message}`)) throw e;
  });
}

/** Starts PostgreSQL unless it answers, then waits (bounded) until it accepts queries. */
export async function ensurePostgres(): Promise<void> {
  const s = postgresSettings();
  const ok = async () => {
    const c = new pg.Client({ ...s, connectionTimeoutMillis: 2000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  if (await ok()) return;
  await pgCtl('start');
  const end = Date.now() + 60_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('PostgreSQL did not come back within 60 s');
    await sleep(250);
  }
}

// ---- stream engines ------------------------------------------------------------------------------------

export interface EngineSpec {
  readonly kind: 'nats' | 'pubsub' | 'kafka';
  /** undefined when the engine can be used (starting it if that is cheap), else why not */
  unavailable(): Promise<string | undefined>;
  /** the `streams.<kind>` block of a run */
  options(run: string): Record<string, unknown>;
  /** environment for the role processes */
  env(): NodeJS.ProcessEnv;
  /** why the server cannot be killed and restarted here, if it cannot */
  restartUnsupported(): Promise<string | undefined>;
  /** kill -9 the server and start it again (leaves it running whatever happens) */
  restart(downMs: number): Promise<void>;
  /** deletes what a run created */
  cleanup(run: string): Promise<void>;
  /** stops what `unavailable()` started */
  shutdown(): Promise<void>;
}

const STREAMS = ['raw', 'enriched', 'bad'];

// NATS: the machine's server (test/helpers/nats-server.ts).
export const natsSpec: EngineSpec = {
  kind: 'nats',
  unavailable: natsUnavailable,
  options: (run) => ({
    servers: [NATS_URL],
    streamPrefix: `dist-${run}-`,
    subjectPrefix: `dist-${run}`,
    // a killed consumer's records come back after this long (default 30 s)
    ackWaitMs: 6000,
    requestTimeoutMs: 3000,
  }),
  env: () => ({}),
  restartUnsupported: natsRestartUnsupported,
  async restart(downMs) {
    try {
      await killNats();
      await sleep(downMs);
    } finally {
      await ensureNats();
    }
  },
  async cleanup(run) {
    const { NatsStreamEngine } = await import('../../src/streams/nats/engine.js');
    const e = await NatsStreamEngine.connect(natsSpec.options(run));
    try {
      for (const s of STREAMS) await e.deleteStream(s).catch(() => undefined);
    } finally {
      await e.close();
    }
  },
  async shutdown() {},
};

// Pub/Sub: the emulator from the Google Cloud CLI, started here when nothing listens (as in
// test/streams-pubsub.test.ts) and stopped at the end. It keeps everything in memory, so it has no restart test.
const PUBSUB_HOST = process.env.PUBSUB_EMULATOR_HOST || '127.0.0.1:8085';
const PUBSUB_PROJECT = process.env.PUBSUB_PROJECT_ID || 'furrow-test';
let emulator: ChildProcess | undefined;
let emulatorLog = '';
let pubsubAvailability: Promise<string | undefined> | undefined;

function hostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i).replace(/^\[|\]$/g, ''), Number(hp.slice(i + 1))];
}

export const pubsubSpec: EngineSpec = {
  kind: 'pubsub',
  unavailable() {
    pubsubAvailability ??= (async () => {
      const [host, port] = hostPort(PUBSUB_HOST);
      if (await tcpOpen(host, port)) return undefined;
      try {
        await execFileP('gcloud', ['--version'], { timeout: 30_000 });
      } catch {
        return `nothing listens on ${PUBSUB_HOST} and gcloud (with the pubsub-emulator component) is not installed`;
      }
      emulator = spawn(
        'gcloud',
        [
          'beta',
          'emulators',
          'pubsub',
          'start',
          `--host-port=127.0.0.1:${port}`,
          `--project=${PUBSUB_PROJECT}`,
        ],
        { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      emulator.stdout?.on('data', (c: Buffer) => (emulatorLog = (emulatorLog + c.toString()).slice(-4000)));
      emulator.stderr?.on('data', (c: Buffer) => (emulatorLog = (emulatorLog + c.toString()).slice(-4000)));
      let exited = false;
      emulator.once('exit', () => (exited = true));
      const end = Date.now() + 90_000;
      while (Date.now() < end && !exited) {
        if (await tcpOpen(host, port)) {
          log(`started the Pub/Sub emulator on ${PUBSUB_HOST}`);
          return undefined;
        }
        await sleep(250);
      }
      await pubsubSpec.shutdown();
      return `the Pub/Sub emulator did not start within 90 s: ${emulatorLog.slice(-600)}`;
    })();
    return pubsubAvailability;
  },
  options: (run) => ({
    projectId: PUBSUB_PROJECT,
    topicPrefix: `dist-${run}-`,
    // the minimum: a killed consumer's records come back after 10 s
    ackDeadlineSeconds: 10,
    requestTimeoutMs: 10_000,
  }),
  env: () => ({ PUBSUB_EMULATOR_HOST: PUBSUB_HOST, METADATA_SERVER_DETECTION: 'none' }),
  async restartUnsupported() {
    return 'the Pub/Sub emulator keeps its topics in memory: a restart loses them by design, so there is no server-restart test';
  },
  async restart() {
    throw new Error('not supported');
  },
  async cleanup(run) {
    process.env.PUBSUB_EMULATOR_HOST = PUBSUB_HOST;
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    const { PubSubStreamEngine } = await import('../../src/streams/pubsub/engine.js');
    const e = await PubSubStreamEngine.connect(pubsubSpec.options(run));
    try {
      for (const s of STREAMS) await e.deleteStream(s).catch(() => undefined);
    } finally {
      await e.close();
    }
  },
  async shutdown() {
    const child = emulator;
    emulator = undefined;
    if (child?.pid === undefined || child.exitCode !== null) return;
    const pid = child.pid;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5000);
    await gone;
    clearTimeout(timer);
    try {
      process.kill(-pid, 'SIGKILL'); // the JVM may outlive the gcloud wrapper briefly
    } catch {
      // gone
    }
  },
};

// Kafka: the single KRaft broker of scripts/dev-services.sh (started here when it is down and Java plus the
// Maven-fetched broker are present; stopped at the end only if started here).
const KAFKA_BROKER = (process.env.FURROW_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')[0];
const DEV_SERVICES = join(REPO_ROOT, 'scripts', 'dev-services.sh');
let kafkaStartedHere = false;
let kafkaAvailability: Promise<string | undefined> | undefined;

function kafkaPidFile(): string {
  const [, port] = hostPort(KAFKA_BROKER);
  const cache = process.env.FURROW_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'furrow');
  return join(process.env.FURROW_KAFKA_STATE ?? join(cache, 'kafka', `node-${port}`), 'kafka.pid');
}

function devServices(...args: string[]) {
  const [, port] = hostPort(KAFKA_BROKER);
  return execFileP('bash', [DEV_SERVICES, ...args], {
    env: { ...process.env, FURROW_KAFKA_PORT: String(port) },
    timeout: 180_000,
  });
}

export const kafkaSpec: EngineSpec = {
  kind: 'kafka',
  unavailable() {
    kafkaAvailability ??= (async () => {
      const [host, port] = hostPort(KAFKA_BROKER);
      if (await tcpOpen(host, port)) return undefined;
      if (!['127.0.0.1', 'localhost'].includes(host))
        return `no Kafka broker at ${KAFKA_BROKER} (FURROW_KAFKA_BROKERS)`;
      try {
        await devServices('start', 'kafka');
        kafkaStartedHere = true;
        log(`started a Kafka broker on ${KAFKA_BROKER} with scripts/dev-services.sh`);
        return undefined;
      } catch (e) {
        const err = e as Error & { stderr?: string };
        return `no Kafka broker at ${KAFKA_BROKER} and scripts/dev-services.sh start kafka failed: ${(err.stderr ?? err.message).trim().slice(-400)}`;
      }
    })();
    return kafkaAvailability;
  },
  options: (run) => ({
    brokers: [KAFKA_BROKER],
    topicPrefix: `dist-${run}-`,
    partitions: 4,
    // a killed member's partitions move to the others after the session timeout (default 10 s)
    consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000, rebalanceTimeoutMs: 10_000 },
    batching: { lingerMs: 2 },
  }),
  env: () => ({}),
  async restartUnsupported() {
    const file = kafkaPidFile();
    if (!existsSync(file))
      return `the broker at ${KAFKA_BROKER} was not started by scripts/dev-services.sh (no ${file})`;
    return undefined;
  },
  async restart(downMs) {
    try {
      const pid = Number(readFileSync(kafkaPidFile(), 'utf8').trim());
      assert.ok(pid > 0, 'broker pid');
      await killAndWait(pid);
      await sleep(downMs);
    } finally {
      await devServices('start', 'kafka');
    }
  },
  async cleanup(run) {
    const { Admin } = await import('@platformatic/kafka');
    const admin = new Admin({ clientId: 'furrow-dist-cleanup', bootstrapBrokers: [KAFKA_BROKER] });
    try {
      await admin.deleteTopics({ topics: STREAMS.map((s) => `dist-${run}-${s}`) }).catch(() => undefined);
    } finally {
      await admin.close().catch(() => undefined);
    }
  },
  async shutdown() {
    if (kafkaStartedHere) await devServices('stop', 'kafka').catch(() => undefined);
    kafkaStartedHere = false;
  },
};

// ---- a distributed pipeline ------------------------------------------------------------------------------

export interface PipelineOptions {
  spec: EngineSpec;
  schemasDir: string;
  warehouse: PgWarehouse;
  /** enrich processes started with the pipeline (default 1) */
  enrichProcesses?: number;
}

/**
 * collector → engine → enrich (×n) → engine → loader → PostgreSQL, each a `furrow` process with its own
 * data directory, sharing one config file.
 */
export class Pipeline {
  readonly run = randomUUID().slice(0, 8);
  collector!: RoleProcess;
  enrich: RoleProcess[] = [];
  loader!: RoleProcess;
  private dir = '';
  private configFile = '';
  private seq = 0;
  private readonly all = new Set<RoleProcess>();
  private readonly dataDirs = new Map<RoleProcess, string>();

  constructor(readonly opts: PipelineOptions) {}

  get spec(): EngineSpec {
    return this.opts.spec;
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), `furrow-dist-${this.spec.kind}-`));
    this.configFile = join(this.dir, 'furrow.json');
    const config = {
      streams: { [this.spec.kind]: this.spec.options(this.run) },
      warehouse: { postgres: this.opts.warehouse.options() },
      // small batches: several enrich processes get a share of a modest volume
      enrich: { batchSize: 50, workers: 1 },
      loader: { batchRows: 500, maxDelayMs: 200 },
      shutdown: { preTerminationMs: 0, drainDeadlineMs: 20_000 },
      micro: { enabled: false },
    };
    await writeFile(this.configFile, JSON.stringify(config, null, 2));
    const t0 = Date.now();
    // the collector first: it creates the streams, so the others find them
    this.collector = await this.startRole('collector');
    const [loader, ...enrich] = await Promise.all([
      this.startRole('load'),
      ...Array.from({ length: this.opts.enrichProcesses ?? 1 }, () => this.startRole('enrich')),
    ]);
    this.loader = loader;
    this.enrich = enrich;
    log(`${this.spec.kind}: collector, ${enrich.length} enrich and a loader up in ${Date.now() - t0} ms`);
    return this;
  }

  /** Starts one more process of a role, with its own data directory. */
  async startRole(role: 'collector' | 'enrich' | 'load', dataDir?: string): Promise<RoleProcess> {
    const name = `${role}-${++this.seq}`;
    const dir = dataDir ?? join(this.dir, name);
    const p = await startRole(
      name,
      role,
      {
        config: this.configFile,
        streams: this.spec.kind,
        warehouse: 'postgres',
        host: '127.0.0.1',
        port: 0,
        'data-dir': dir,
        schemas: this.opts.schemasDir,
      },
      this.spec.env(),
    );
    this.all.add(p);
    this.dataDirs.set(p, dir);
    return p;
  }

  /** Replaces a killed process by a new one of the same role on the same data directory. */
  async restart(p: RoleProcess): Promise<RoleProcess> {
    const q = await this.startRole(p.role as 'enrich' | 'load', this.dataDirs.get(p));
    if (p === this.loader) this.loader = q;
    const i = this.enrich.indexOf(p);
    if (i >= 0) this.enrich[i] = q;
    return q;
  }

  get collectorPort(): number {
    return Number(new URL(this.collector.base).port);
  }

  /** SIGTERM everything (the collector last but one: it drains its spool), then delete the streams. */
  async close(): Promise<void> {
    const procs = [...this.all].filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    await Promise.all(
      procs.filter((p) => p.role !== 'collector').map((p) => stopRole(p).catch(() => undefined)),
    );
    await Promise.all(
      procs.filter((p) => p.role === 'collector').map((p) => stopRole(p).catch(() => undefined)),
    );
    await this.spec.cleanup(this.run).catch((e) => log(`${this.spec.kind} cleanup failed: ${e}`));
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }
}

// ---- furrow up, the reference ---------------------------------------------------------------------------

/** Runs the scenario through `furrow up` (DuckDB) and returns its rows with the compared columns. */
export async function referenceRows(schemasDir: string, n: number): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-dist-up-'));
  try {
    const up = await startRole('up', 'up', {
      host: '127.0.0.1',
      port: 0,
      'data-dir': dir,
      schemas: schemasDir,
      workers: 1,
      durability: 'os',
    });
    try {
      const port = Number(new URL(up.base).port);
      const post = await sendScenario(port, 'e2e-post', 'post', n);
      const get = await sendScenario(port, 'e2e-get', 'get', n);
      assert.equal(post.acked.size + get.acked.size, 6 * n, 'furrow up acknowledged the scenario');
    } finally {
      assert.equal(await stopRole(up), 0, 'furrow up drained and exited 0');
    }
    const sql =
      `SELECT ${COMPARED.join(', ')}, ` +
      `json_extract_string(unstruct_event, '$.data.data.targetUrl') AS unstruct_target, ` +
      `json_extract_string(unstruct_event, '$.data.data.elementId') AS unstruct_element, ` +
      `json_extract_string(contexts, '$.data[0].data.id') AS web_page_id ` +
      `FROM atomic.events WHERE app_id IN ('e2e-post', 'e2e-get')`;
    return await queryWarehouse(join(dir, 'warehouse.duckdb'), sql);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
