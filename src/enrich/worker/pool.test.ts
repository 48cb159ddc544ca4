/**
 * The enrich worker pool over real worker threads: both workers produce the same output as the
 * in-process enricher, and a worker that dies mid-batch is replaced without losing or duplicating
 * its batch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedResolverConfig } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, encodeCollectorPayload } from '../../protocol/collector-payload.js';
import { WorkerPool } from './pool.js';

function records(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    encodeCollectorPayload({
      schema: COLLECTOR_PAYLOAD_SCHEMA,
      ipAddress: '10.0.0.1',
      timestamp: Date.UTC(2025, 0, 1),
      encoding: 'UTF-8',
      collector: 'pool-test',
      path: '/i',
      querystring: `e=se&p=web&tv=t&se_ca=c&se_ac=${i}`,
    }),
  );
}

test('worker threads enrich batches; a crashed worker is replaced and its batch redone', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  const restarts: string[] = [];
  const pool = new WorkerPool({
    size: 2,
    init: { resolverConfig: sharedResolverConfig(shared) },
    onRestart: (r) => restarts.push(r),
  });
  try {
    await pool.ready();
    const first = await pool.run(records(100));
    assert.equal(first.good.length, 100);
    assert.equal(first.bad.length, 0);
    // Kill one worker while batches are in flight on both.
    const inflight = [pool.run(records(3000)), pool.run(records(3000))];
    await pool.workers()[0].terminate();
    const results = await Promise.all(inflight);
    assert.deepEqual(
      results.map((r) => r.good.length),
      [3000, 3000],
      'both batches complete, exactly once each',
    );
    const actions = results.flatMap((r) => r.good.map((l) => l.split('\t')[54]));
    assert.equal(new Set(actions).size, 3000, 'every event present');
    assert.ok(restarts.length >= 1, 'the dead worker was replaced');
    const after = await pool.run(records(10));
    assert.equal(after.good.length, 10, 'the pool keeps working');
  } finally {
    await pool.close();
  }
});

test('a worker that cannot start reports why', async () => {
  const pool = new WorkerPool({ size: 1, init: { resolverConfig: { not: 'a resolver config' } } });
  try {
    await assert.rejects(pool.ready(), /enrich worker failed to start: .*/);
  } finally {
    await pool.close();
  }
});
