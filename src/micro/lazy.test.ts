/**
 * The Micro feed of `furrow up` stores events by reference to their raw-stream record and rebuilds the raw
 * events only when queried: its /micro/good and /micro/bad answers must be exactly those of the eager path
 * (the in-process enricher's trace, as `furrow micro` stores it), for good and bad events of the tracker
 * protocol (rebuilt), whole-record failures (rebuilt from the record alone) and webhook events (passed as
 * JSON by the worker).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedResolverConfig } from '../../test/helpers/enricher.js';
import { requireShared } from '../../test/helpers/shared.js';
import { chooseEnrichments } from '../enrich/enrichments/defaults.js';
import { Enricher, type EnrichOutput } from '../enrich/pipeline.js';
import { WorkerPool } from '../enrich/worker/pool.js';
import { createResolver } from '../iglu/resolver.js';
import { COLLECTOR_PAYLOAD_SCHEMA, encodeCollectorPayload } from '../protocol/collector-payload.js';
import { createRawSource } from './raw-source.js';
import { storeOutputs, storeTaskResult } from './sink.js';
import { MicroStore, type RawSource } from './store.js';

const eid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function payload(path: string, extra: { querystring?: string; body?: string }): Uint8Array {
  return encodeCollectorPayload({
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2025, 0, 1),
    encoding: 'UTF-8',
    collector: 'lazy-test',
    path,
    userAgent: 'test-agent',
    headers: ['Host: example'],
    ...(extra.body === undefined ? {} : { contentType: 'application/json', body: extra.body }),
    ...(extra.querystring === undefined ? {} : { querystring: extra.querystring }),
  });
}

function tp2(events: Record<string, string>[]): Uint8Array {
  const body = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
    data: events,
  });
  return payload('/com.snowplowanalytics.snowplow/tp2', { body });
}

const LINK_CLICK = 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1';

function records(): Uint8Array[] {
  return [
    payload('/i', { querystring: `e=pp&p=web&tv=t&eid=${eid(1)}` }),
    tp2([
      { e: 'pv', p: 'web', tv: 't', url: 'http://example.com/a', eid: eid(2) },
      { e: 'se', p: 'web', tv: 't', se_ca: 'c', se_ac: 'bad', se_va: 'not a number', eid: eid(7) },
      { e: 'se', p: 'web', tv: 't', se_ca: 'c', se_ac: 'third', eid: eid(3) },
    ]),
    payload('/com.snowplowanalytics.snowplow/tp2', { body: '{not json' }),
    new TextEncoder().encode('not a collector payload'),
    payload('/com.snowplowanalytics.iglu/v1', {
      querystring: `schema=${LINK_CLICK}&eid=${eid(4)}`,
      body: '{"targetUrl":"http://example.com"}',
    }),
    payload('/com.snowplowanalytics.iglu/v1', { querystring: `schema=${LINK_CLICK}&eid=${eid(5)}` }),
    tp2([{ e: 'se', p: 'web', tv: 't', se_ca: 'c', se_ac: 'last', eid: eid(6) }]),
  ];
}

/** The records as views on one larger buffer, as a stream's read buffer hands them out. */
function views(list: Uint8Array[]): Uint8Array[] {
  const all = new Uint8Array(list.reduce((n, r) => n + r.byteLength, 16));
  let at = 8;
  return list.map((r) => {
    all.set(r, at);
    at += r.byteLength;
    return all.subarray(at - r.byteLength, at);
  });
}

test('events stored by reference answer /micro/good and /micro/bad exactly as eagerly stored ones', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  const config = sharedResolverConfig(shared);
  const etlMs = Date.UTC(2025, 0, 2);

  const resolver = createResolver(config);
  const enricher = new Enricher({
    resolver,
    enrichments: await chooseEnrichments({ defaults: 'standard' }, { resolver }),
  });
  const eager = new MicroStore();
  for (const r of records()) {
    const out: EnrichOutput = { good: [], bad: [], trace: { good: [], bad: [] } };
    await enricher.processRecord(r, out, etlMs);
    storeOutputs(eager, out);
  }

  const rebuilt: Uint8Array[] = [];
  const source = createRawSource({ resolver: createResolver(config), maxJsonDepth: 50 });
  const spy: RawSource = {
    payload(bytes) {
      rebuilt.push(bytes);
      return source.payload(bytes);
    },
    events: (p) => source.events(p),
  };
  const lazy = new MicroStore({ source: spy });
  const pool = new WorkerPool({
    size: 1,
    init: { resolverConfig: config, defaultEnrichments: 'standard', trace: true },
  });
  try {
    await pool.ready();
    // Two tasks, as the enrich stage splits a batch.
    const batch = views(records());
    for (const part of [batch.slice(0, 3), batch.slice(3)]) {
      const result = await pool.run(part, etlMs);
      storeTaskResult(lazy, result, part);
      // Only webhook events cross the thread as JSON; tracker-protocol ones as two numbers each.
      const refs = result.goodRefs ?? [];
      const byJson = refs.filter((_, i) => i % 2 === 1 && refs[i] === -1).length;
      assert.equal(byJson, result.goodRawJson?.length ?? 0);
      for (const r of result.goodRawJson ?? []) assert.match(r, /com\.snowplowanalytics\.iglu/);
    }
  } finally {
    await pool.close();
  }

  assert.deepEqual(lazy.summary(), eager.summary());
  assert.deepEqual(lazy.summary(), { total: 9, good: 5, bad: 4 });
  assert.equal(rebuilt.length, 0, 'nothing is rebuilt before a query');

  // The newest good event only: one record rebuilt, not the store.
  assert.deepEqual(await lazy.good({ limit: 1 }), await eager.good({ limit: 1 }));
  assert.equal(rebuilt.length, 1);
  for (const b of rebuilt)
    assert.equal(b.byteLength, b.buffer.byteLength, 'a record is kept as its own copy');

  const good = await eager.good();
  assert.equal(JSON.stringify(await lazy.good()), JSON.stringify(good));
  assert.deepEqual(
    good.map((g) => g.rawEvent.parameters.eid),
    [eid(6), eid(4), eid(3), eid(2), eid(1)],
  );
  const bad = await eager.bad();
  assert.equal(JSON.stringify(await lazy.bad()), JSON.stringify(bad));
  assert.equal(bad.length, 4);
  for (const filters of [{ vendor: 'com.snowplowanalytics.iglu' }, { version: 'tp2', limit: 1 }])
    assert.equal(JSON.stringify(await lazy.bad(filters)), JSON.stringify(await eager.bad(filters)));
  // Answered again from what the first queries rebuilt.
  const before = rebuilt.length;
  assert.equal(JSON.stringify(await lazy.good()), JSON.stringify(good));
  assert.equal(JSON.stringify(await lazy.bad()), JSON.stringify(bad));
  assert.equal(rebuilt.length, before);
});
