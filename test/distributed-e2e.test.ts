/**
 * Distributed mode end to end, as an operator runs it: `furrow collector`, `furrow enrich` and `furrow load`
 * as separate processes, the streams on a real engine (NATS JetStream, the Google Pub/Sub emulator, Kafka),
 * the warehouse in PostgreSQL, the official `@snowplow/node-tracker` sending (POST and GET).
 *
 * For every engine that is available:
 * 1. the scenario's events all arrive, exactly once, with the same values `furrow up` (embedded streams,
 *    DuckDB) produces for the same input (selected columns of `atomic.events`, ids and timestamps aside);
 * 2. scaling: two enrich processes of the consumer group "enrich" both make progress (their own
 *    `furrow_events_total{stage="enrich"}`), a third joins and then leaves (SIGTERM), under steady traffic,
 *    and every acknowledged event is loaded once;
 * 3. faults under steady traffic: kill -9 of an enrich process and of the loader (each restarted on its data
 *    directory), kill -9 and restart of the engine's server (NATS, Kafka), PostgreSQL stopped for a while
 *    (once, on the first engine that runs): every event the collector answered 200 for ends up in
 *    `atomic.events` exactly once.
 *
 * An engine or server that is absent skips its tests with the reason printed; under CI=true that fails.
 * Servers that are stopped are always started again (in `finally`). The Pub/Sub emulator and a Kafka broker
 * are started here when nothing listens (gcloud; scripts/dev-services.sh) and stopped at the end.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  assertExactlyOnce,
  canonical,
  type EngineSpec,
  enrichedGood,
  ensurePostgres,
  kafkaSpec,
  killRole,
  log,
  metric,
  natsSpec,
  PgWarehouse,
  Pipeline,
  pgCtl,
  pgRestartUnsupported,
  pubsubSpec,
  type RoleProcess,
  type Row,
  referenceRows,
  sendScenario,
  skipUnless,
  sleep,
  spawnFurrow,
  startTraffic,
  stopRole,
} from './helpers/distributed.js';
import { stopFurrow } from './helpers/furrow-process.js';
import { postgresSettings } from './helpers/services.js';
import { sharedDir } from './helpers/shared.js';

/** events per shape and method in the comparison scenario: 3 shapes × 2 methods × N */
const N = 40;
/** steady traffic of the scaling and fault tests: about 40 events per second, POST and GET */
const TRAFFIC = { perTick: 4, tickMs: 100 };
/** FURROW_DIST_ENGINES=nats,kafka runs only those engines */
const ONLY = process.env.FURROW_DIST_ENGINES?.split(',').filter((s) => s !== '');
const SPECS: EngineSpec[] = [natsSpec, pubsubSpec, kafkaSpec].filter(
  (s) => ONLY === undefined || ONLY.length === 0 || ONLY.includes(s.kind),
);
const T0 = Date.now();
const elapsed = () => `${((Date.now() - T0) / 1000).toFixed(1)} s`;

let reference: Promise<Row[]> | undefined;
let pgFaultDone = false;

async function pgUnavailable(): Promise<string | undefined> {
  const s = postgresSettings();
  const pg = (await import('pg')).default;
  const c = new pg.Client({ ...s, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (e) {
    return `PostgreSQL unavailable at ${s.user}@${s.host}:${s.port}/${s.database} (${(e as Error).message})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Polls the warehouse until `appId` has at least `n` rows (bounded), tolerating a PostgreSQL restart. */
async function waitRows(wh: PgWarehouse, appId: string, n: number, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  let have = 0;
  for (;;) {
    try {
      have = (await wh.rows([appId])).length;
    } catch {
      // restarting
    }
    if (have >= n) return have;
    if (Date.now() > end) throw new Error(`${what}: ${have} of ${n} rows after ${timeoutMs} ms`);
    await sleep(300);
  }
}

/** Resolves with each process's events enriched since `from` once every one has enriched some. */
async function progressed(procs: RoleProcess[], from: number[], timeoutMs: number): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const now = await Promise.all(procs.map(enrichedGood));
    if (now.every((v, i) => v > from[i])) return now.map((v, i) => v - from[i]);
    if (Date.now() > end)
      throw new Error(
        `not every enrich process made progress: ${now.map((v, i) => v - from[i]).join(' / ')}`,
      );
    await sleep(300);
  }
}

after(async () => {
  for (const s of SPECS) await s.shutdown().catch(() => undefined);
});

test('furrow enrich (stream role) accepts role flags in the space-separated form', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-dist-flags-'));
  try {
    const config = join(dir, 'furrow.json');
    await writeFile(config, JSON.stringify({ enrich: { workers: 1 } }));
    const child = spawnFurrow([
      'enrich',
      '--config',
      config,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      join(dir, 'data'),
    ]);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const listening = await new Promise<boolean>((done) => {
      const timer = setTimeout(() => done(false), 60_000);
      child.stderr?.on('data', () => {
        if (/listening on/.test(stderr)) {
          clearTimeout(timer);
          done(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        done(false);
      });
    });
    if (child.exitCode === null) await stopFurrow(child);
    assert.ok(
      listening,
      `furrow enrich --config ${config} … did not start the stream role: ${stderr.slice(0, 400)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const spec of SPECS) {
  describe(`distributed ${spec.kind}`, { concurrency: false }, () => {
    let why: string | undefined;
    let pipeline: Pipeline | undefined;
    let wh: PgWarehouse | undefined;
    let schemasDir = '';

    before(async () => {
      const shared = sharedDir();
      why =
        shared === null
          ? 'shared reference data unavailable (../shared or FURROW_SHARED)'
          : ((await pgUnavailable()) ?? (await spec.unavailable()));
      if (why !== undefined) return;
      schemasDir = `${shared}/iglu-central`;
      reference ??= referenceRows(schemasDir, N);
      reference.catch(() => undefined); // awaited by the tests
      const p = new Pipeline({
        spec,
        schemasDir,
        warehouse: (wh = new PgWarehouse(`dist_${spec.kind}_${Date.now().toString(36)}`)),
        enrichProcesses: 2,
      });
      pipeline = p;
      await p.start();
    });

    after(async () => {
      await pipeline?.close();
      await wh?.drop();
    });

    test(`${spec.kind}: node tracker POST and GET → collector → ${spec.kind} → enrich → ${spec.kind} → loader → PostgreSQL, exactly once, same values as furrow up`, async (t) => {
      if (!skipUnless(t, why)) return;
      const p = pipeline!;
      const t0 = Date.now();
      const post = await sendScenario(p.collectorPort, 'e2e-post', 'post', N);
      const get = await sendScenario(p.collectorPort, 'e2e-get', 'get', N);
      const acked = new Set([...post.acked, ...get.acked]);
      const tracked = new Set([...post.tracked, ...get.tracked]);
      assert.equal(tracked.size, 6 * N);
      assert.equal(acked.size, 6 * N, 'the collector acknowledged every event');
      const rows = await wh!.waitFor(['e2e-post', 'e2e-get'], acked, 60_000);
      log(`${spec.kind}: ${rows.length} events sent and loaded in ${Date.now() - t0} ms`);
      assert.equal(rows.length, 6 * N, 'exactly the events sent');
      assertExactlyOnce(rows, acked, tracked);
      const ref = await reference!;
      assert.equal(ref.length, 6 * N, 'furrow up loaded the same number');
      const mine = canonical(rows);
      const theirs = canonical(ref);
      const diff = mine.filter((r, i) => r !== theirs[i]);
      assert.deepEqual(
        diff.slice(0, 3),
        [],
        `values differ from furrow up's (first: ${theirs.find((r, i) => r !== mine[i])})`,
      );
      // the comparison is about something: enrichment-derived and event-specific values are there
      const linkClicks = rows.filter((r) => r.event_name === 'link_click');
      assert.equal(linkClicks.length, 2 * N);
      assert.ok(linkClicks.every((r) => typeof r.unstruct_target === 'string' && r.web_page_id !== null));
      assert.ok(rows.filter((r) => r.event === 'page_view').every((r) => r.mkt_source === 'news'));
      assert.ok(rows.filter((r) => r.event === 'struct').every((r) => r.se_category === 'shop'));
      log(`${spec.kind}: e2e done at ${elapsed()}`);
    });

    test(`${spec.kind}: two enrich processes share the work of group "enrich"; a third joins and leaves; no loss, no duplicate`, async (t) => {
      if (!skipUnless(t, why)) return;
      const p = pipeline!;
      const t0 = Date.now();
      const step = (what: string) => log(`${spec.kind} scaling +${Date.now() - t0} ms: ${what}`);
      const [first, second] = p.enrich;
      const base = await Promise.all([first, second].map(enrichedGood));
      const traffic = startTraffic(p.collectorPort, 'scale', TRAFFIC);
      let third: RoleProcess | undefined;
      let thirdShare = 0;
      try {
        const shares = await progressed([first, second], base, 45_000);
        step(`both enrich processes enriched events (${shares.join(' / ')})`);
        third = await p.startRole('enrich');
        step('a third enrich process started');
        const base3 = await enrichedGood(third);
        [thirdShare] = await progressed([third], [base3], 45_000);
        step(`the third enriched ${thirdShare} events; stopping it (SIGTERM)`);
        assert.equal(await stopRole(third), 0, 'the third enrich process left cleanly (SIGTERM, exit 0)');
        step('the third left');
        await sleep(1500);
      } finally {
        await traffic.stop();
        if (third !== undefined && third.child.exitCode === null) await killRole(third);
      }
      const { acked, tracked } = traffic;
      assert.ok(acked.size >= 100, `enough traffic (${acked.size} events)`);
      const rows = await wh!.waitFor(['scale'], acked, 90_000);
      const shares = (await Promise.all([first, second].map(enrichedGood))).map((v, i) => v - base[i]);
      const replays = await metric(p.loader.base, 'furrow_events_total', {
        stage: 'loader',
        outcome: 'duplicate',
      });
      step(
        `${acked.size} events acknowledged, ${rows.length} rows; enriched by the first / second / third: ` +
          `${shares.join(' / ')} / ${thirdShare}+; replayed lines the loader skipped so far: ${replays}`,
      );
      assertExactlyOnce(rows, acked, tracked);
      for (const share of shares)
        assert.ok(
          share >= acked.size * 0.05,
          `each of the two got a real share of the work (${shares.join(' / ')})`,
        );
      log(`${spec.kind}: scaling done at ${elapsed()}`);
    });

    test(`${spec.kind}: kill -9 of enrich and of the loader, server restart, PostgreSQL outage: every acknowledged event loaded exactly once`, async (t) => {
      if (!skipUnless(t, why)) return;
      const p = pipeline!;
      const w = wh!;
      const t0 = Date.now();
      const step = (what: string) => log(`${spec.kind} faults +${Date.now() - t0} ms: ${what}`);
      const traffic = startTraffic(p.collectorPort, 'faults', TRAFFIC);
      const skipped: string[] = [];
      try {
        let have = await waitRows(w, 'faults', 40, 60_000, 'rows before the first fault');
        // enrich: one of the two killed mid-stream, restarted on its data directory; it must get work again
        await killRole(p.enrich[0]);
        step(`enrich killed (-9) at ${have} rows`);
        await sleep(500);
        const enrich = await p.restart(p.enrich[0]);
        step('enrich restarted');
        await progressed([enrich], [0], 45_000);
        have = await waitRows(w, 'faults', have + 30, 60_000, 'progress after the enrich restart');
        // the loader (the only one): killed mid-stream, restarted
        await killRole(p.loader);
        step(`loader killed (-9) at ${have} rows`);
        await sleep(500);
        await p.restart(p.loader);
        step('loader restarted');
        have = await waitRows(w, 'faults', have + 30, 60_000, 'progress after the loader restart');
        // the engine's server
        const noRestart = await spec.restartUnsupported();
        if (noRestart === undefined) {
          step(`${spec.kind} server killed (-9) at ${have} rows`);
          await spec.restart(1500);
          step(`${spec.kind} server back`);
          have = await waitRows(w, 'faults', have + 30, 90_000, `progress after the ${spec.kind} restart`);
        } else skipped.push(noRestart);
        // PostgreSQL, once per file (the first engine that runs)
        const noPg = pgFaultDone
          ? 'PostgreSQL outage already tested with another engine'
          : pgRestartUnsupported();
        if (noPg === undefined) {
          pgFaultDone = true;
          try {
            await pgCtl('stop');
            step(`PostgreSQL stopped at ${have} rows`);
            await sleep(3000);
          } finally {
            await ensurePostgres();
          }
          step('PostgreSQL started');
          have = await waitRows(w, 'faults', have + 30, 90_000, 'progress after the PostgreSQL restart');
        } else skipped.push(noPg);
      } finally {
        await ensurePostgres();
        await traffic.stop();
      }
      step('traffic stopped');
      const { acked, tracked } = traffic;
      const rows = await w.waitFor(['faults'], acked, 120_000);
      const duplicates = await metric(p.loader.base, 'furrow_events_total', {
        stage: 'loader',
        outcome: 'duplicate',
      });
      step(
        `${acked.size} acknowledged of ${tracked.size} tracked, ${rows.length} rows; the restarted loader skipped ${duplicates} replayed duplicates`,
      );
      assertExactlyOnce(rows, acked, tracked);
      for (const s of skipped) log(`${spec.kind}: not tested here: ${s}`);
      log(`${spec.kind}: faults done at ${elapsed()}`);
    });
  });
}
