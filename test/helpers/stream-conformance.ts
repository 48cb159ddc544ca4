/**
 * The behaviour every `StreamEngine` must show (embedded log, Kafka, NATS JetStream, Pub/Sub), as one
 * reusable suite: each engine's integration test calls `streamConformance` with a factory that gives a
 * fresh engine and unique stream names. Only real engines run it, never a mock.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { InRecord, StreamEngine, Subscription } from '../../src/streams/types.js';

export interface ConformanceOptions {
  /** engine name for test titles */
  name: string;
  /** a connected engine; called once per test */
  engine: () => Promise<StreamEngine>;
  /** unique stream name (engines may need prefixes or pre-created topics) */
  streamName?: () => string;
  /** engines that deliver in order only per key (Kafka partitions) set this */
  orderedPerKeyOnly?: boolean;
  /** skip reason when the engine is not available; undefined = available */
  unavailable?: () => Promise<string | undefined>;
  /** max wait for a delivery, ms */
  waitMs?: number;
}

const text = (r: InRecord) => Buffer.from(r.value).toString('utf8');

async function drain(sub: Subscription, expected: number, waitMs: number, ack = true): Promise<InRecord[]> {
  const out: InRecord[] = [];
  const end = Date.now() + waitMs;
  while (out.length < expected && Date.now() < end) {
    const batch = await sub.next(expected - out.length, Math.min(1000, Math.max(1, end - Date.now())));
    out.push(...batch.records);
    if (ack && batch.records.length > 0) await batch.ack();
  }
  return out;
}

export function streamConformance(o: ConformanceOptions): void {
  const name = o.streamName ?? (() => `conf-${randomUUID().slice(0, 8)}`);
  const wait = o.waitMs ?? 20_000;

  async function withEngine(
    t: { skip(msg: string): void },
    fn: (e: StreamEngine) => Promise<void>,
  ): Promise<void> {
    const why = await o.unavailable?.();
    if (why !== undefined) {
      if (process.env.CI === 'true') throw new Error(`${o.name} unavailable under CI=true: ${why}`);
      console.log(`# skipped: ${why}`);
      t.skip(why);
      return;
    }
    const engine = await o.engine();
    try {
      await fn(engine);
    } finally {
      await engine.close();
    }
  }

  test(`${o.name}: published records are delivered with keys, values and timestamps, then acknowledged`, async (t) => {
    await withEngine(t, async (engine) => {
      const s = await engine.stream(name());
      const before = Date.now();
      const values = Array.from({ length: 50 }, (_, i) => `record-${i}`);
      await s.publish(values.map((v) => ({ key: 'k1', value: Buffer.from(v) })));
      const sub = s.subscribe('g1');
      const got = await drain(sub, 50, wait);
      assert.deepEqual(got.map(text), values, 'in order for one key');
      assert.ok(got.every((r) => r.key === 'k1'));
      assert.ok(got.every((r) => r.timestamp >= before - 5000 && r.timestamp <= Date.now() + 5000));
      assert.equal(await s.lag('g1'), 0);
      await sub.close();
    });
  });

  test(`${o.name}: an unacknowledged batch is delivered again to the next subscriber of the group`, async (t) => {
    await withEngine(t, async (engine) => {
      const s = await engine.stream(name());
      await s.publish(['a', 'b', 'c'].map((v) => ({ key: 'k', value: Buffer.from(v) })));
      const first = s.subscribe('g');
      const unacked = await drain(first, 3, wait, false);
      assert.equal(unacked.length, 3);
      await first.close();
      const second = s.subscribe('g');
      const again = await drain(second, 3, wait);
      assert.deepEqual(again.map(text).sort(), ['a', 'b', 'c'], 'redelivered: at least once');
      await second.close();
      const third = s.subscribe('g');
      const none = await third.next(10, 1500);
      assert.equal(none.records.length, 0, 'acknowledged records are not delivered again');
      await third.close();
    });
  });

  test(`${o.name}: consumer groups are independent and lag counts unacknowledged records`, async (t) => {
    await withEngine(t, async (engine) => {
      const s = await engine.stream(name());
      await s.publish(
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: Buffer.from(String(i)) })),
      );
      const a = s.subscribe('ga');
      const gotA = await drain(a, 10, wait);
      assert.equal(gotA.length, 10);
      assert.equal(await s.lag('ga'), 0);
      const b = s.subscribe('gb');
      const gotB = await drain(b, 10, wait);
      assert.deepEqual(gotB.map(text).sort(), gotA.map(text).sort());
      await a.close();
      await b.close();
      await s.publish([{ value: Buffer.from('late') }]);
      const end = Date.now() + wait;
      while ((await s.lag('ga')) !== 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await s.lag('ga'), 1);
    });
  });

  test(`${o.name}: many records and many publishers lose nothing`, async (t) => {
    await withEngine(t, async (engine) => {
      const s = await engine.stream(name());
      const n = 2000;
      await Promise.all(
        Array.from({ length: 8 }, (_, p) =>
          s.publish(
            Array.from({ length: n / 8 }, (_, i) => ({ key: `p${p}`, value: Buffer.from(`${p}-${i}`) })),
          ),
        ),
      );
      const sub = s.subscribe('big');
      const got = await drain(sub, n, wait * 2);
      assert.equal(new Set(got.map(text)).size, n);
      for (let p = 0; p < 8; p++) {
        const seq = got.map(text).filter((v) => v.startsWith(`${p}-`));
        assert.deepEqual(
          seq,
          seq.slice().sort((x, y) => Number(x.split('-')[1]) - Number(y.split('-')[1])),
          'per-key order',
        );
      }
      await sub.close();
    });
  });
}
