import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from '../../test/helpers/temp-dirs.js';
import { SegmentLog } from '../streams/embedded/segment-log.js';
import type { OutRecord, Stream, Subscription } from '../streams/types.js';
import { drainOrphanedSpool, Spool, SpoolClosedError, SpoolFullError } from './spool.js';

const tmp = tempDirs('furrow-spool-');

type Mode = 'ok' | 'fail' | 'hang';

/** A target whose publish can be made to fail or hang; it records what it accepted. */
class TestStream implements Stream {
  readonly name = 'raw';
  mode: Mode = 'ok';
  received: string[] = [];
  calls = 0;
  private hung: (() => void)[] = [];

  async publish(records: readonly OutRecord[]): Promise<void> {
    this.calls++;
    if (this.mode === 'fail') throw new Error('broker unavailable');
    if (this.mode === 'hang') {
      await new Promise<void>((resolve) => this.hung.push(resolve));
      throw new Error('connection reset');
    }
    for (const r of records) this.received.push(Buffer.from(r.value).toString());
  }
  subscribe(): Subscription {
    throw new Error('not used');
  }
  async lag(): Promise<number> {
    return 0;
  }
  release(): void {
    for (const r of this.hung.splice(0)) r();
  }
}

const enc = (s: string) => Buffer.from(s);
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `e${from + i}`);

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('append is durable, the forwarder delivers in order and advances the checkpoint', async () => {
  const dataDir = await tmp();
  const spool = await Spool.open({ dataDir, retentionIntervalMs: 0 });
  assert.equal(spool.dir, join(dataDir, 'spool'));
  await Promise.all(ids(50).map((id) => spool.append(enc(id))));
  let st = spool.stats();
  assert.equal(st.records, 50);
  assert.equal(st.appended, 50);
  assert.ok(st.oldestAgeSeconds >= 0 && st.oldestAgeSeconds < 60);
  const target = new TestStream();
  spool.start(target);
  await until(() => spool.stats().records === 0);
  assert.deepEqual([...target.received].sort(), ids(50).sort());
  st = spool.stats();
  assert.equal(st.forwarded, 50);
  assert.equal(st.oldestAgeSeconds, 0);
  await spool.append(enc('e50'));
  await until(() => target.received.length === 51);
  const res = await spool.drain(Date.now() + 2000);
  assert.deepEqual(res, { drained: true, remaining: 0, forwarded: 0 });
  assert.deepEqual(JSON.parse(await fsp.readFile(join(spool.dir, 'checkpoint'), 'utf8')), { next: 51 });
  await assert.rejects(spool.append(enc('late')), SpoolClosedError);
});

test('segments are deleted only after the target acknowledges, and re-sent after a restart', async () => {
  const dir = await tmp();
  let spool = await Spool.open({ dir, segmentBytes: 300, retentionIntervalMs: 0, publishTimeoutMs: 100_000 });
  for (const id of ids(40)) await spool.append(enc(id));
  const segs = spool.stats().segments;
  assert.ok(segs >= 4);
  const target = new TestStream();
  target.mode = 'hang';
  spool.start(target);
  await until(() => target.calls > 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(spool.stats().segments, segs, 'nothing deleted while publishes are unacknowledged');
  assert.equal(spool.stats().records, 40);
  await spool.close();
  target.release();
  // the restart re-sends everything the target never acknowledged
  spool = await Spool.open({ dir, segmentBytes: 300, retentionIntervalMs: 0 });
  assert.equal(spool.stats().records, 40);
  const good = new TestStream();
  spool.start(good);
  await until(() => spool.stats().records === 0);
  assert.deepEqual([...good.received].sort(), ids(40).sort());
  await until(() => spool.stats().segments === 1 && spool.stats().bytes === 0);
  await spool.close();
  // and after a restart nothing is sent twice
  spool = await Spool.open({ dir });
  assert.equal(spool.stats().records, 0);
  await spool.close();
});

test('publish errors back off and retry; lastError is reported then cleared', async () => {
  const spool = await Spool.open({ dir: await tmp(), backoffMinMs: 5, backoffMaxMs: 20 });
  const target = new TestStream();
  target.mode = 'fail';
  await spool.append(enc('a'));
  spool.start(target);
  await until(() => spool.stats().publishErrors >= 3);
  assert.match(spool.stats().lastError ?? '', /broker unavailable/);
  const calls = target.calls;
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(target.calls - calls < 20, 'retries are spaced out, not a busy loop');
  target.mode = 'ok';
  await until(() => spool.stats().records === 0);
  assert.deepEqual(target.received, ['a']);
  assert.equal(spool.stats().lastError, undefined);
  await spool.close();
});

test('a hung publish times out and is retried', async () => {
  const spool = await Spool.open({
    dir: await tmp(),
    publishTimeoutMs: 30,
    backoffMinMs: 1,
    backoffMaxMs: 5,
  });
  const target = new TestStream();
  target.mode = 'hang';
  await spool.append(enc('a'));
  spool.start(target);
  await until(() => spool.stats().publishErrors >= 1);
  assert.match(spool.stats().lastError ?? '', /timed out/);
  target.mode = 'ok';
  await until(() => spool.stats().records === 0);
  assert.deepEqual(target.received, ['a']);
  await spool.close();
  target.release();
});

test('drain with a stalled target returns at the deadline and the data stays durable', async () => {
  const dir = await tmp();
  const spool = await Spool.open({ dir });
  for (const id of ids(20)) await spool.append(enc(id));
  const target = new TestStream();
  target.mode = 'hang';
  spool.start(target);
  const t0 = Date.now();
  const res = await spool.drain(t0 + 200);
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 2000, `drain took ${took} ms`);
  assert.deepEqual(res, { drained: false, remaining: 20, forwarded: 0 });
  assert.equal(spool.stats().accepting, false);
  target.release();
  // the directory is released and every record is still there
  const log = await SegmentLog.open(dir);
  assert.equal((await log.read(0, 100)).length, 20);
  await log.close();
  const again = await Spool.open({ dir });
  assert.equal(again.stats().records, 20);
  await again.close();
});

test('SpoolFullError at the cap, high watermark before it, recovery once forwarded', async () => {
  const dir = await tmp();
  const spool = await Spool.open({ dir, maxBytes: 40_000, highWatermark: 0.5, retentionIntervalMs: 0 });
  const rec = Buffer.alloc(976, 'r'); // 1000 bytes with the frame header
  let accepted = 0;
  let hwAt = -1;
  for (let i = 0; i < 60; i++) {
    try {
      await spool.append(rec);
      accepted++;
      if (hwAt < 0 && spool.stats().highWatermark) hwAt = accepted;
    } catch (e) {
      assert.ok(e instanceof SpoolFullError);
      break;
    }
  }
  assert.equal(accepted, 40);
  assert.equal(hwAt, 20);
  let st = spool.stats();
  assert.equal(st.full, true);
  assert.equal(st.rejected, 1);
  const target = new TestStream();
  spool.start(target);
  await until(() => spool.stats().records === 0 && !spool.stats().highWatermark);
  st = spool.stats();
  assert.equal(st.full, false);
  await spool.append(rec);
  await spool.close();
});

test('drainOrphanedSpool takes over a dead pod’s spool and empties it', async () => {
  const dir = await tmp();
  const spool = await Spool.open({ dir });
  for (const id of ids(30)) await spool.append(enc(id));
  await spool.close();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  await fsp.writeFile(join(dir, 'LOCK'), `${dead}\n${hostname()}\n`);
  const target = new TestStream();
  const res = await drainOrphanedSpool(dir, target, Date.now() + 5000);
  assert.deepEqual(res, { drained: true, remaining: 0, forwarded: 30 });
  assert.deepEqual([...target.received].sort(), ids(30).sort());
  const log = await SegmentLog.open(dir);
  assert.equal(log.stats().bytes, 0, 'forwarded segments are gone');
  await log.close();
});

test('the spool directory cannot be opened twice', async () => {
  const dir = await tmp();
  const spool = await Spool.open({ dir });
  await assert.rejects(Spool.open({ dir }), /locked/);
  await spool.close();
});
