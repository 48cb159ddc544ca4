/**
 * Back-pressure: with the spool capped small and the downstream stream stalled, the collector answers
 * 503 (never a 200 it cannot keep) once the spool is full, and 200 again after the stream recovers and
 * the spool drains. Real spool on disk, real HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultCollectorConfig } from '../src/collector/config.js';
import { createCollectorHandler } from '../src/collector/handler.js';
import { Spool } from '../src/collector/spool.js';
import { SpoolSink } from '../src/collector/spool-sink.js';
import { createHttpServer, listen } from '../src/runtime/http-server.js';
import { createMetrics } from '../src/runtime/metrics.js';
import type { OutRecord, Stream, Subscription } from '../src/streams/types.js';

/** A stream whose publishes hang until `release()`; then it accepts everything. */
class StalledStream implements Stream {
  readonly name = 'raw';
  received: OutRecord[] = [];
  private stalled = true;
  private waiters: Array<() => void> = [];
  async publish(records: readonly OutRecord[]): Promise<void> {
    if (this.stalled) await new Promise<void>((r) => this.waiters.push(r));
    this.received.push(...records);
  }
  release(): void {
    this.stalled = false;
    for (const w of this.waiters.splice(0)) w();
  }
  subscribe(): Subscription {
    throw new Error('not used');
  }
  async lag(): Promise<number> {
    return 0;
  }
}

test('a full spool answers 503, and recovers once the stream drains it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-bp-'));
  const stream = new StalledStream();
  const spool = await Spool.open({
    dir,
    maxBytes: 256 * 1024,
    segmentBytes: 64 * 1024,
    publishTimeoutMs: 60_000,
  });
  spool.start(stream);
  const metrics = createMetrics({ defaults: false });
  const server = createHttpServer({
    metrics,
    ready: () => !spool.stats().highWatermark,
    collector: createCollectorHandler({
      config: defaultCollectorConfig(),
      sink: new SpoolSink(spool, stream),
    }),
  });
  await listen(server, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const body = JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data: [{ e: 'pv', p: 'web', tv: 'js', page: 'x'.repeat(4000) }],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 200 && !statuses.includes(503); i++) {
      const res = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, { method: 'POST', body });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const ok = statuses.filter((s) => s === 200).length;
    assert.ok(ok > 10, `accepted while there was room (${ok})`);
    assert.equal(statuses.at(-1), 503, 'answers 503 once full');
    assert.equal((await fetch(`${base}/health/ready`)).status, 503, 'not ready above the high watermark');
    assert.equal((await fetch(`${base}/health/live`)).status, 200, 'liveness does not depend on downstreams');
    const retry = await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, { method: 'POST', body });
    assert.equal(retry.status, 503);
    assert.equal(retry.headers.get('retry-after'), '1');

    stream.release();
    const end = Date.now() + 20_000;
    let status = 503;
    while (status !== 200 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(`${base}/com.snowplowanalytics.snowplow/tp2`, { method: 'POST', body })).status;
    }
    assert.equal(status, 200, 'accepts again after draining');
    while (spool.stats().records > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(stream.received.length, ok + 1, 'every acknowledged record reached the stream, once');
    assert.equal((await fetch(`${base}/health/ready`)).status, 200);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await spool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
