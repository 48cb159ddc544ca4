import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from '../../test/helpers/temp-dirs.js';
import { loadConfig } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { createMetrics } from '../runtime/metrics.js';
import { openStreams, startCollectorRole } from '../runtime/roles.js';
import { EmbeddedStreamEngine } from '../streams/embedded/engine.js';
import { SegmentLog } from '../streams/embedded/segment-log.js';
import { Spool, SpoolClosedError, SpoolFullError } from './spool.js';
import { StreamSpool } from './stream-spool.js';

const tmp = tempDirs('furrow-stream-spool-');

const enc = (s: string) => Buffer.from(s);

async function consumeAll(engine: EmbeddedStreamEngine, group = 'enrich'): Promise<string[]> {
  const raw = await engine.stream('raw');
  const sub = raw.subscribe(group);
  const out: string[] = [];
  for (;;) {
    const b = await sub.next(1000, 50);
    if (b.records.length === 0) break;
    for (const r of b.records) out.push(Buffer.from(r.value).toString());
    await b.ack();
  }
  await sub.close();
  return out;
}

test('appends land in the raw stream once durable, readable by its consumers, and survive a reopen', async () => {
  const dir = await tmp();
  let engine = new EmbeddedStreamEngine({ dir });
  const raw = await engine.stream('raw');
  const spool = new StreamSpool(raw.log);
  await spool.append(enc('a'));
  await spool.append([enc('b'), enc('c')]);
  assert.equal(raw.log.nextSeq, 3, 'one log, one record per payload');
  assert.equal(spool.stats().appended, 3);
  assert.equal(spool.stats().records, 0, 'nothing waits for a forwarder');
  await spool.drain(Date.now() + 1000);
  await assert.rejects(spool.append(enc('late')), SpoolClosedError);
  await engine.close();
  engine = new EmbeddedStreamEngine({ dir });
  assert.deepEqual(await consumeAll(engine), ['a', 'b', 'c']);
  await engine.close();
});

test('records allocated from the spool are framed in place and read back intact, mixed with others', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir });
  const raw = await engine.stream('raw');
  const spool = new StreamSpool(raw.log);
  const own = (s: string) => {
    const b = spool.alloc(Buffer.byteLength(s));
    b.write(s);
    return b;
  };
  // neighbours in the slab must not bleed into each other's frames
  await spool.append([own('first'), enc('foreign'), own('second')]);
  await spool.append(own(''));
  // the record just allocated goes to the log as the same memory, flags byte in front (no copy)
  const seen: Uint8Array[] = [];
  const append = raw.log.append.bind(raw.log);
  raw.log.append = (payloads, ts) => {
    seen.push(...payloads);
    return append(payloads, ts);
  };
  const third = own('third');
  await spool.append(third);
  assert.equal(seen[0].buffer, third.buffer);
  assert.equal(seen[0].byteOffset, third.byteOffset - 1);
  await engine.close();
  const again = new EmbeddedStreamEngine({ dir });
  assert.deepEqual(await consumeAll(again), ['first', 'foreign', 'second', '', 'third']);
  await again.close();
});

test('at the cap appends are refused with SpoolFullError, and accepted again once retention frees space', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir, segmentBytes: 4096, retentionIntervalMs: 0 });
  const raw = await engine.stream('raw');
  const sub = raw.subscribe('enrich');
  const spool = new StreamSpool(raw.log, { maxBytes: 16 * 1024 });
  const rec = Buffer.alloc(1000, 1);
  let accepted = 0;
  let refused: unknown;
  for (let i = 0; i < 100 && refused === undefined; i++) {
    try {
      await spool.append(rec);
      accepted++;
    } catch (e) {
      refused = e;
    }
  }
  assert.ok(refused instanceof SpoolFullError, `refused with SpoolFullError, got ${refused}`);
  assert.ok(accepted >= 10, `accepted while there was room (${accepted})`);
  assert.equal(raw.log.nextSeq, accepted, 'a refused append writes nothing');
  assert.equal(spool.stats().full, true);
  assert.equal(spool.stats().highWatermark, true);
  assert.equal(spool.stats().rejected, 1);
  // the consumer catches up; retention deletes the consumed segments
  for (;;) {
    const b = await sub.next(1000, 10);
    if (b.records.length === 0) break;
    await b.ack();
  }
  await raw.runRetention();
  assert.equal(spool.stats().full, false);
  await spool.append(rec);
  await sub.close();
  await engine.close();
});

test('the collector role on the embedded engine writes into the raw stream and moves an old spool into it first', async () => {
  const dataDir = await tmp();
  const old = await Spool.open({ dataDir });
  await old.append([enc('old-1'), enc('old-2')]);
  await old.close();
  const cfg = loadConfig({ env: {}, overrides: [['dataDir', dataDir]] });
  const streams = await openStreams(cfg);
  const role = await startCollectorRole(
    cfg,
    streams,
    createMetrics({ defaults: false }),
    createLogger({ level: 'silent' }),
  );
  assert.ok(role.spool instanceof StreamSpool, 'no second log in front of the embedded raw stream');
  assert.equal(existsSync(join(dataDir, 'spool')), false, 'the old spool was emptied and removed');
  await role.spool.append(enc('new'));
  await role.stop(Date.now() + 1000);
  await streams.engine.close();
  const engine = new EmbeddedStreamEngine({ dir: dataDir });
  assert.deepEqual(await consumeAll(engine), ['old-1', 'old-2', 'new']);
  await engine.close();
  const log = await SegmentLog.open(join(dataDir, 'streams', 'raw'));
  assert.equal(log.nextSeq, 3, 'each record stored once');
  await log.close();
});

test('observeFsyncs reports each group commit of the stream log with its duration', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir });
  const raw = await engine.stream('raw');
  const spool = new StreamSpool(raw.log);
  const seen: number[] = [];
  let pooled = 0;
  spool.observeFsyncs((s, p) => {
    seen.push(s);
    if (p) pooled++;
  });
  await spool.append(enc('a'));
  await Promise.all([spool.append(enc('b')), spool.append(enc('c'))]);
  assert.equal(seen.length, spool.stats().fsyncs, 'one observation per fdatasync');
  assert.equal(pooled, raw.log.stats().pooledFsyncs, 'flagged pooled exactly when the log counts one');
  assert.ok(seen.length >= 1 && seen.length <= 3);
  assert.ok(
    seen.every((s) => s >= 0 && s < 60),
    `durations in seconds: ${seen}`,
  );
  await engine.close();
});
