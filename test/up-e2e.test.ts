/**
 * `furrow up` as a user runs it (the real CLI in a child process, data in a temp directory): the official
 * node tracker's events end up in DuckDB with the expected values; kill -9 at random moments loses no
 * acknowledged event and duplicates none; hostile input never takes the process down.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  buildPageView,
  buildSelfDescribingEvent,
  buildStructEvent,
  newTracker,
} from '@snowplow/node-tracker';
import { queryWarehouse } from './helpers/duckdb.js';
import { freePort, killFurrow, startFurrow, stopFurrow } from './helpers/furrow-process.js';
import { requireShared } from './helpers/shared.js';

async function withDataDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-up-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function upArgs(shared: string, dataDir: string, port: number | string = 0): string[] {
  return [
    'up',
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--data-dir',
    dataDir,
    '--schemas',
    join(shared, 'iglu-central'),
  ];
}

async function poll(fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('furrow up: node tracker events reach /micro/good and DuckDB with the expected values', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  await withDataDir(async (dataDir) => {
    const furrow = await startFurrow(upArgs(shared, dataDir));
    try {
      for (const method of ['post', 'get'] as const) {
        const tracker = newTracker(
          { namespace: `up-${method}`, appId: `up-app-${method}`, encodeBase64: method === 'get' },
          { endpoint: '127.0.0.1', port: furrow.port, protocol: 'http', eventMethod: method, bufferSize: 1 },
        );
        tracker.track(
          buildPageView({ pageUrl: 'https://shop.example.com/p?utm_source=x#f', pageTitle: 'P' }),
        );
        tracker.track(buildStructEvent({ category: 'cat', action: 'act', value: 1.5 }));
        tracker.track(
          buildSelfDescribingEvent({
            event: {
              schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1',
              data: { targetUrl: 'https://t.example/' },
            },
          }),
          [
            {
              schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
              data: { id: randomUUID() },
            },
          ],
        );
        await tracker.flush();
      }
      await fetch(`${furrow.base}/i?e=pv&p=web&tv=js&eid=not-a-uuid`);
      await poll(async () => {
        const all = (await (await fetch(`${furrow.base}/micro/all`)).json()) as { good: number; bad: number };
        return all.good === 6 && all.bad === 1;
      });
      const status = (await (await fetch(`${furrow.base}/status.json`)).json()) as { ready: boolean };
      assert.equal(status.ready, true);
      const metrics = await (await fetch(`${furrow.base}/metrics`)).text();
      assert.match(metrics, /furrow_events_total\{stage="enrich",outcome="good"\} 6/);
      assert.match(metrics, /furrow_http_requests_total\{route="tp2-post",status="200"\}/);
      assert.match(metrics, /furrow_spool_bytes /);
      assert.match(metrics, /furrow_spool_fsyncs_pooled_total \d/);
      // counted as they happen: every request above waited for at least one group commit
      const fsyncs = Number(/furrow_spool_fsyncs_total (\d+)/.exec(metrics)?.[1] ?? 0);
      assert.ok(fsyncs > 0, 'furrow_spool_fsyncs_total counts the group commits');
      const syncs = Number(/furrow_spool_fsync_seconds_count (\d+)/.exec(metrics)?.[1] ?? 0);
      assert.equal(syncs, fsyncs, 'furrow_spool_fsync_seconds observes each of them');
    } finally {
      assert.equal(await stopFurrow(furrow.child), 0, 'SIGTERM drains and exits 0');
    }
    const db = join(dataDir, 'warehouse.duckdb');
    const rows = await queryWarehouse(
      db,
      `select app_id, event, event_name, page_urlhost, page_urlquery, se_category, se_value, v_tracker,
              unstruct_event->>'$.data.data.targetUrl' as target, json_array_length(contexts->'$.data') as n_ctx,
              collector_tstamp, derived_tstamp, network_userid, load_tstamp
         from atomic.events order by app_id, event`,
    );
    assert.equal(rows.length, 6);
    const post = rows.filter((r) => r.app_id === 'up-app-post');
    assert.deepEqual(
      post.map((r) => r.event),
      ['page_view', 'struct', 'unstruct'],
    );
    const [pv, se, ue] = post;
    assert.equal(pv.page_urlhost, 'shop.example.com');
    assert.equal(pv.page_urlquery, 'utm_source=x');
    assert.equal(se.se_category, 'cat');
    assert.equal(se.se_value, 1.5);
    assert.equal(ue.event_name, 'link_click');
    assert.equal(ue.target, 'https://t.example/');
    assert.equal(Number(ue.n_ctx), 1);
    assert.match(String(pv.v_tracker), /^node-/);
    for (const r of rows) {
      assert.ok(r.collector_tstamp instanceof Date);
      assert.ok(r.load_tstamp instanceof Date);
      assert.match(String(r.network_userid), /^[0-9a-f-]{36}$/);
    }
    const bad = await queryWarehouse(db, 'select count(*)::int as n from atomic.bad_rows');
    assert.equal(bad[0].n, 1);
  });
});

test('furrow up: kill -9 at random moments loses no acknowledged event and duplicates none', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  await withDataDir(async (dataDir) => {
    const port = await freePort();
    const args = upArgs(shared, dataDir, port);
    let furrow = await startFurrow(args);
    const acked = new Set<string>();
    let sent = 0;
    let stop = false;
    const base = `http://127.0.0.1:${port}`;
    // 16 concurrent clients: GET pixels and POST batches of 3, each event with its own id.
    const clients = Array.from({ length: 16 }, async (_, c) => {
      while (!stop) {
        const ids = c % 2 === 0 ? [randomUUID()] : [randomUUID(), randomUUID(), randomUUID()];
        sent += ids.length;
        try {
          const res =
            ids.length === 1
              ? await fetch(`${base}/i?e=pv&p=web&tv=crash&eid=${ids[0]}`)
              : await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, {
                  method: 'POST',
                  headers: { 'Content-Type': 'application/json' },
                  body: JSON.stringify({
                    schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
                    data: ids.map((eid) => ({ e: 'se', p: 'srv', tv: 'crash', eid, se_ca: 'c', se_ac: 'a' })),
                  }),
                });
          await res.arrayBuffer();
          if (res.status === 200) for (const id of ids) acked.add(id);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((r) => setTimeout(r, 400 + Math.random() * 1200));
      await killFurrow(furrow.child);
      furrow = await startFurrow(args);
    }
    await new Promise((r) => setTimeout(r, 800));
    stop = true;
    await Promise.all(clients);
    assert.equal(await stopFurrow(furrow.child), 0);
    assert.ok(acked.size > 100, `enough traffic acknowledged (${acked.size} of ${sent})`);
    const rows = await queryWarehouse(
      join(dataDir, 'warehouse.duckdb'),
      'select event_id::varchar as id, count(*)::int as n from atomic.events group by 1',
    );
    const stored = new Map(rows.map((r) => [String(r.id), Number(r.n)]));
    const missing = [...acked].filter((id) => !stored.has(id));
    assert.deepEqual(missing, [], 'every acknowledged event is in atomic.events');
    const duplicated = [...stored].filter(([, n]) => n !== 1);
    assert.deepEqual(duplicated, [], 'exactly once');
  });
});

test('furrow up: hostile input becomes bad rows or status codes, and the process stays up', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  await withDataDir(async (dataDir) => {
    const furrow = await startFurrow(upArgs(shared, dataDir));
    const base = furrow.base;
    try {
      const post = (
        body: string | Uint8Array,
        path = '/com.snowplowanalytics.snowplow/tp2',
        ct = 'application/json',
      ) => fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': ct }, body });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const bytes = new Uint8Array(256).map(() => Math.floor(Math.random() * 256));
        statuses.push((await post(bytes)).status);
      }
      statuses.push(
        (await post('{"schema":"iglu:x/y/jsonschema/1-0-0","data":' + '['.repeat(10_000))).status,
      );
      statuses.push((await fetch(`${base}/i?e=ue&p=web&tv=x&ue_px=%%%%%ZZ`)).status);
      statuses.push((await fetch(`${base}/i?e=pv&p=web&tv=x&nuid=not-a-uuid`)).status);
      statuses.push((await post(Buffer.from([0xc3, 0x28, 0xa0, 0xa1]))).status);
      statuses.push((await fetch(`${base}/i?e=pv&p=web&tv=x&page=%C3%28`)).status);
      assert.ok(
        statuses.every((s) => s === 200),
        `all stored and acknowledged: ${statuses}`,
      );
      const giant = await post('x'.repeat(3 * 1024 * 1024)).catch(() => undefined);
      if (giant !== undefined) assert.equal(giant.status, 413);
      // A flood of tiny requests.
      const flood = await Promise.all(
        Array.from({ length: 500 }, () => fetch(`${base}/i`).then((r) => r.status)),
      );
      assert.ok(flood.every((s) => s === 200));
      await poll(async () => {
        const all = (await (await fetch(`${base}/micro/all`)).json()) as { total: number };
        return all.total >= 525;
      });
      assert.equal((await fetch(`${base}/health/live`)).status, 200);
      const rss = Number(
        /furrow_process_resident_memory_bytes (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1],
      );
      assert.ok(rss < 600 * 1024 * 1024, `memory stays bounded (${Math.round(rss / 1e6)} MB)`);
    } finally {
      assert.equal(await stopFurrow(furrow.child), 0);
    }
    const counts = await queryWarehouse(
      join(dataDir, 'warehouse.duckdb'),
      `select schema, count(*)::int as n from atomic.bad_rows group by 1 order by 1`,
    );
    const bySchema = Object.fromEntries(counts.map((r) => [String(r.schema).split('/')[1], r.n]));
    assert.ok(Number(bySchema.tracker_protocol_violations) >= 20, JSON.stringify(bySchema));
    assert.ok(Number(bySchema.collector_payload_format_violation) >= 1, 'non-UUID nuid');
    assert.ok(Number(bySchema.adapter_failures) >= 500, 'empty /i requests');
  });
});

test('furrow up with no registry answering: events are accepted, a drain does not wait for what cannot be enriched, and the next start with schemas loads them', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  await withDataDir(async (dataDir) => {
    const deadPort = await freePort();
    const resolverFile = join(dataDir, 'resolver.json');
    await writeFile(
      resolverFile,
      JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3',
        data: {
          cacheSize: 100,
          repositories: [
            {
              name: 'nobody home',
              priority: 0,
              vendorPrefixes: [],
              connection: { http: { uri: `http://127.0.0.1:${deadPort}/api` } },
            },
          ],
        },
      }),
    );
    // a drain deadline far beyond what the drain needs: waiting it out would be the failure
    const configFile = join(dataDir, 'furrow.json');
    await writeFile(configFile, JSON.stringify({ shutdown: { drainDeadlineMs: 120_000 } }));
    const eid = randomUUID();
    const offline = await startFurrow([
      ...upArgs(shared, dataDir),
      '--schemas',
      join(dataDir, 'no-schemas-here'),
      '--resolver',
      resolverFile,
      '--config',
      configFile,
    ]);
    let exit: number | null;
    let drainMs: number;
    try {
      const res = await fetch(`${offline.base}/i?e=pv&p=web&tv=js-3.0.0&aid=offline-drain&eid=${eid}`);
      assert.equal(res.status, 200, 'accepted and durable although nothing can enrich it yet');
      await res.arrayBuffer();
      // let enrich fail a few times in a row
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      const t0 = Date.now();
      exit = await stopFurrow(offline.child, 130_000);
      drainMs = Date.now() - t0;
    }
    assert.equal(exit, 0);
    assert.ok(
      drainMs < 60_000,
      `the drain gave up on enrich instead of waiting out 120 s (took ${drainMs} ms)`,
    );

    const online = await startFurrow(upArgs(shared, dataDir));
    try {
      await poll(async () => {
        const r = await fetch(`${online.base}/micro/good`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ limit: 10 }),
        });
        const good = (await r.json()) as { event: { event_id: string } }[];
        return good.some((g) => g.event.event_id === eid);
      });
    } finally {
      assert.equal(await stopFurrow(online.child), 0);
    }
    const rows = await queryWarehouse(
      join(dataDir, 'warehouse.duckdb'),
      `select app_id from atomic.events where event_id = '${eid}'`,
    );
    assert.deepEqual(rows, [{ app_id: 'offline-drain' }]);
  });
});
