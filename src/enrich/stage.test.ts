import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Batch, InRecord, OutRecord, Stream, Subscription } from '../streams/types.js';
import { EnrichStage } from './stage.js';
import type { WorkerPool } from './worker/pool.js';
import type { TaskResult } from './worker/protocol.js';

const text = (b: Uint8Array) => Buffer.from(b).toString();

/** Delivers `records` as one batch, then empty polls; counts acknowledgements. */
class OneBatchStream implements Stream {
  readonly name = 'raw';
  acks = 0;
  published: string[] = [];
  constructor(private records: InRecord[]) {}
  async publish(records: readonly OutRecord[]): Promise<void> {
    for (const r of records) this.published.push(text(r.value));
  }
  subscribe(): Subscription {
    return {
      next: async (_max: number, wait: number): Promise<Batch> => {
        const records = this.records;
        this.records = [];
        if (records.length === 0) await new Promise((r) => setTimeout(r, Math.min(wait, 10)));
        return {
          records,
          ack: async () => {
            this.acks++;
          },
        };
      },
      close: async () => {},
    };
  }
  async lag(): Promise<number> {
    return this.records.length;
  }
}

test('a batch is enriched in small tasks spread over the pool, published whole, acknowledged once', async () => {
  const inputs = Array.from({ length: 103 }, (_, i) => `r${i}`);
  const raw = new OneBatchStream(inputs.map((s) => ({ value: Buffer.from(s), timestamp: 0 })));
  const enriched = new OneBatchStream([]);
  const bad = new OneBatchStream([]);
  const tasks: string[][] = [];
  let id = 0;
  const pool = {
    size: 2,
    run: async (records: Uint8Array[]): Promise<TaskResult> => {
      const lines = records.map(text);
      tasks.push(lines);
      return { id: id++, good: lines.map((l) => `enriched ${l}`), bad: [] };
    },
  } as unknown as WorkerPool;
  const stage = new EnrichStage({ raw, enriched, bad, pool, batchSize: 1000 });
  stage.start();
  for (let i = 0; i < 500 && raw.acks === 0; i++) await new Promise((r) => setTimeout(r, 5));
  await stage.stop();
  assert.equal(raw.acks, 1);
  assert.ok(
    tasks.every((t) => t.length <= 25),
    `task sizes ${tasks.map((t) => t.length)}`,
  );
  assert.deepEqual(tasks.flat(), inputs);
  assert.deepEqual(
    enriched.published,
    inputs.map((l) => `enriched ${l}`),
  );
  assert.deepEqual(bad.published, []);
});
