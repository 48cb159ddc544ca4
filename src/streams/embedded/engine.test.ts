import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from '../../../test/helpers/temp-dirs.js';
import type { Batch } from '../types.js';
import { decodeRecord, EmbeddedStreamEngine, encodeRecord } from './engine.js';

const tmp = tempDirs('furrow-engine-');

const rec = (s: string, key?: string) => ({ key, value: Buffer.from(s) });
const values = (b: Batch) => b.records.map((r) => Buffer.from(r.value).toString());
const nums = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m${from + i}`);

test('record codec keeps keys, including the empty key', () => {
  for (const key of [undefined, '', 'user-42', 'ключ']) {
    const d = decodeRecord(Buffer.from(encodeRecord({ key, value: Buffer.from('v') })), 5);
    assert.equal(d.key, key);
    assert.equal(Buffer.from(d.value).toString(), 'v');
    assert.equal(d.timestamp, 5);
  }
});

test('publish, subscribe, ack; records carry key and timestamp', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir });
  assert.equal(engine.kind, 'embedded');
  const s = await engine.stream('raw');
  assert.equal(await engine.stream('raw'), s);
  await s.publish([rec('a', 'k1'), rec('b')]);
  const sub = s.subscribe('enrich');
  const b = await sub.next(10, 100);
  assert.deepEqual(values(b), ['a', 'b']);
  assert.equal(b.records[0].key, 'k1');
  assert.equal(b.records[1].key, undefined);
  assert.ok(Math.abs(b.records[0].timestamp - Date.now()) < 60_000);
  assert.equal(await s.lag('enrich'), 2);
  await b.ack();
  assert.equal(await s.lag('enrich'), 0);
  const empty = await sub.next(10, 20);
  assert.equal(empty.records.length, 0);
  await empty.ack();
  await engine.close();
  await assert.rejects(engine.stream('raw'), /closed/);
});

test('names that could escape the data directory are refused', async () => {
  const engine = new EmbeddedStreamEngine(await tmp());
  await assert.rejects(engine.stream('../x'), /invalid stream name/);
  const s = await engine.stream('ok');
  assert.throws(() => s.subscribe('a/b'), /invalid consumer group name/);
  await engine.close();
});

test('next waits for a publish without polling and returns an empty batch on timeout', async () => {
  const engine = new EmbeddedStreamEngine(await tmp());
  const s = await engine.stream('raw');
  const sub = s.subscribe('g');
  const t0 = Date.now();
  assert.equal((await sub.next(10, 50)).records.length, 0);
  assert.ok(Date.now() - t0 >= 45);
  const pending = sub.next(10, 10_000);
  setTimeout(() => void s.publish([rec('late')]), 30);
  const b = await pending;
  assert.deepEqual(values(b), ['late']);
  assert.ok(Date.now() - t0 < 5000);
  // closing a subscription ends its wait
  const waiting = sub.next(10, 10_000);
  await sub.close();
  assert.equal((await waiting).records.length, 0);
  await engine.close();
});

test('consumer groups are independent', async () => {
  const engine = new EmbeddedStreamEngine(await tmp());
  const s = await engine.stream('enriched');
  await s.publish(nums(5).map((v) => rec(v)));
  const a = s.subscribe('loader');
  const b = s.subscribe('forwarder');
  const a1 = await a.next(3, 100);
  await a1.ack();
  assert.deepEqual(values(a1), nums(3));
  const b1 = await b.next(100, 100);
  assert.deepEqual(values(b1), nums(5));
  assert.equal(await s.lag('loader'), 2);
  assert.equal(await s.lag('forwarder'), 5);
  await b1.ack();
  assert.equal(await s.lag('forwarder'), 0);
  assert.equal(await s.lag('loader'), 2);
  assert.equal(await s.lag('never-subscribed'), 5);
  await engine.close();
});

test('unacked batches are redelivered after a restart, acked ones are not', async () => {
  const dir = await tmp();
  let engine = new EmbeddedStreamEngine({ dir });
  let s = await engine.stream('raw');
  await s.publish(nums(10).map((v) => rec(v)));
  let sub = s.subscribe('enrich');
  const b1 = await sub.next(3, 100);
  const b2 = await sub.next(3, 100);
  const b3 = await sub.next(3, 100);
  assert.deepEqual(values(b2), nums(3, 3));
  await b1.ack();
  await b3.ack(); // out of order: cannot commit past the unacked b2
  assert.equal(await s.lag('enrich'), 7);
  await engine.close();

  engine = new EmbeddedStreamEngine({ dir });
  s = await engine.stream('raw');
  assert.equal(await s.lag('enrich'), 7);
  sub = s.subscribe('enrich');
  const again = await sub.next(100, 100);
  assert.deepEqual(values(again), nums(7, 3));
  // acking b2's redelivery commits everything delivered in order
  await again.ack();
  assert.equal(await s.lag('enrich'), 0);
  await engine.close();

  engine = new EmbeddedStreamEngine({ dir });
  s = await engine.stream('raw');
  assert.equal((await s.subscribe('enrich').next(100, 30)).records.length, 0);
  await engine.close();
});

test('acking the earlier batch commits a later one acked first', async () => {
  const engine = new EmbeddedStreamEngine(await tmp());
  const s = await engine.stream('raw');
  await s.publish(nums(4).map((v) => rec(v)));
  const sub = s.subscribe('g');
  const b1 = await sub.next(2, 100);
  const b2 = await sub.next(2, 100);
  await b2.ack();
  assert.equal(await s.lag('g'), 4);
  await b1.ack();
  assert.equal(await s.lag('g'), 0);
  assert.deepEqual(s.positions(), { g: 4 });
  await engine.close();
});

test('closing the last subscription hands unacked records to the next one', async () => {
  const engine = new EmbeddedStreamEngine(await tmp());
  const s = await engine.stream('raw');
  await s.publish(nums(3).map((v) => rec(v)));
  const first = s.subscribe('g');
  const b = await first.next(10, 100);
  assert.equal(b.records.length, 3);
  await first.close();
  const second = s.subscribe('g');
  const again = await second.next(10, 100);
  assert.deepEqual(values(again), nums(3));
  await b.ack(); // the late ack of the original batch still counts
  assert.equal(await s.lag('g'), 0);
  await again.ack();
  await engine.close();
});

test('subscriptions of one group share the work', async () => {
  const engine = new EmbeddedStreamEngine(await tmp());
  const s = await engine.stream('raw');
  await s.publish(nums(6).map((v) => rec(v)));
  const x = s.subscribe('g');
  const y = s.subscribe('g');
  const [bx, by] = await Promise.all([x.next(3, 100), y.next(3, 100)]);
  assert.deepEqual([...values(bx), ...values(by)].sort(), nums(6).sort());
  await engine.close();
});

test('retention: segments go only below the lowest committed position of all groups', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir, segmentBytes: 400, retentionIntervalMs: 0 });
  const s = await engine.stream('raw');
  const fast = s.subscribe('fast');
  const slow = s.subscribe('slow');
  await s.publish(nums(60).map((v) => rec(v)));
  const segsBefore = s.stats().segments;
  assert.ok(segsBefore >= 5);
  for (;;) {
    const b = await fast.next(7, 10);
    if (b.records.length === 0) break;
    await b.ack();
  }
  assert.equal(await s.runRetention(), 0, 'slow has consumed nothing: nothing may go');
  const sb = await slow.next(30, 10);
  await sb.ack();
  const deleted = await s.runRetention();
  assert.ok(deleted > 0);
  const st = s.stats();
  assert.ok(st.firstSeq <= 30, 'nothing slow has not acked is deleted');
  assert.ok(st.firstSeq > 0);
  // everything from slow's position is still readable
  const rest = await slow.next(100, 10);
  assert.deepEqual(values(rest), nums(30, 30));
  await engine.close();
  // a group known only from its checkpoint file still holds back retention after a restart
  const again = new EmbeddedStreamEngine({ dir, segmentBytes: 400 });
  const s2 = await again.stream('raw');
  assert.deepEqual(Object.keys(s2.positions()).sort(), ['fast', 'slow']);
  assert.equal(await s2.runRetention(), 0);
  await again.close();
});

test('retention keeps retainBytes for late groups', async () => {
  const engine = new EmbeddedStreamEngine({ dir: await tmp(), segmentBytes: 400, retainBytes: 1200 });
  const s = await engine.stream('raw');
  const g = s.subscribe('g');
  await s.publish(nums(60).map((v) => rec(v)));
  for (;;) {
    const b = await g.next(100, 10);
    if (b.records.length === 0) break;
    await b.ack();
  }
  await s.runRetention();
  assert.ok(s.stats().bytes >= 1200);
  assert.ok(s.stats().firstSeq > 0);
  await engine.close();
});

test('a stream with no groups keeps everything', async () => {
  const engine = new EmbeddedStreamEngine({ dir: await tmp(), segmentBytes: 400 });
  const s = await engine.stream('raw');
  await s.publish(nums(60).map((v) => rec(v)));
  assert.equal(await s.runRetention(), 0);
  const late = s.subscribe('late');
  assert.equal((await late.next(1000, 10)).records.length, 60);
  await engine.close();
});

const storedPosition = async (dir: string, stream: string, group: string) =>
  JSON.parse(await fsp.readFile(join(dir, 'streams', stream, 'groups', `${group}.json`), 'utf8')).position;

test('acks are checkpointed later, retention trusts only written positions, close writes the last', async () => {
  const dir = await tmp();
  // an interval no test run reaches: only runRetention and close may write the position
  const engine = new EmbeddedStreamEngine({ dir, segmentBytes: 400, checkpointIntervalMs: 3_600_000 });
  const s = await engine.stream('raw');
  const sub = s.subscribe('g');
  await s.publish(nums(60).map((v) => rec(v)));
  const segs = s.stats().segments;
  const b = await sub.next(30, 10);
  await b.ack();
  assert.equal(await s.lag('g'), 30, 'committed in memory at once');
  assert.equal(await storedPosition(dir, 'raw', 'g'), 0, 'not yet written');
  assert.equal(s.stats().segments, segs);
  // retention writes pending positions first and deletes only below what is on disk
  assert.ok((await s.runRetention()) > 0);
  assert.equal(await storedPosition(dir, 'raw', 'g'), 30);
  assert.ok(s.stats().firstSeq <= 30);
  const b2 = await sub.next(10, 10);
  await b2.ack();
  assert.equal(await storedPosition(dir, 'raw', 'g'), 30);
  await engine.close();
  assert.equal(await storedPosition(dir, 'raw', 'g'), 40);
});

test('checkpointIntervalMs 0: the position is on disk before ack resolves', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir, checkpointIntervalMs: 0 });
  const s = await engine.stream('raw');
  const sub = s.subscribe('g');
  await s.publish(nums(5).map((v) => rec(v)));
  await (await sub.next(3, 10)).ack();
  assert.equal(await storedPosition(dir, 'raw', 'g'), 3);
  await engine.close();
});

test('a deferred checkpoint is written after the interval', async () => {
  const dir = await tmp();
  const engine = new EmbeddedStreamEngine({ dir, checkpointIntervalMs: 5 });
  const s = await engine.stream('raw');
  const sub = s.subscribe('g');
  await s.publish(nums(5).map((v) => rec(v)));
  await (await sub.next(5, 10)).ack();
  while ((await storedPosition(dir, 'raw', 'g').catch(() => 0)) !== 5)
    await new Promise((r) => setTimeout(r, 5));
  await engine.close();
});
