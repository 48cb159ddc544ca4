/**
 * The NATS JetStream engine against a real server (FURROW_NATS_URL, default nats://127.0.0.1:4222):
 * the shared stream conformance suite, then what is particular to JetStream: pull consumers of one
 * durable share the work, a consumer that dies without acking gets its records redelivered after
 * `ack_wait`, and a server restart (kill -9) under a publishing loop loses no acknowledged record.
 *
 * Skipped with the reason printed when no server answers; a failure under CI=true. The restart test
 * needs root and the machine's nats-server (see NATS_START below); it always leaves the server running.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { NatsStreamsOptions } from '../src/streams/nats/config.js';
import { NatsStreamEngine } from '../src/streams/nats/engine.js';
import type { InRecord, Subscription } from '../src/streams/types.js';
import {
  ensureNats,
  killNats,
  NATS_URL,
  natsRestartUnsupported,
  natsUnavailable,
} from './helpers/nats-server.js';
import { streamConformance } from './helpers/stream-conformance.js';

const _execFileP = promisify(execFile);
const URL_ = NATS_URL;
const RUN = randomUUID().slice(0, 6);
const BASE: NatsStreamsOptions = {
  servers: [URL_],
  streamPrefix: 'furrowtest-',
  subjectPrefix: 'furrowtest',
  requestTimeoutMs: 5000,
};
const ENGINE_JS = fileURLToPath(new URL('../src/streams/nats/engine.js', import.meta.url));

const created: string[] = [];
let seq = 0;
function streamName(): string {
  const n = `conf-${RUN}-${++seq}`;
  created.push(n);
  return n;
}

after(async () => {
  if ((await unavailable()) !== undefined) return;
  const e = await NatsStreamEngine.connect(BASE);
  for (const n of created) await e.deleteStream(n).catch(() => undefined);
  await e.close();
});

const unavailable = natsUnavailable;

/** Skip (or fail under CI=true) when the server is absent; returns true when the test should run. */
async function available(t: { skip(msg: string): void }, extra?: string): Promise<boolean> {
  const why = extra ?? (await unavailable());
  if (why === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`NATS test cannot run under CI=true: ${why}`);
  console.log(`# skipped: ${why}`);
  t.skip(why);
  return false;
}

streamConformance({
  name: 'nats',
  engine: () => NatsStreamEngine.connect(BASE),
  streamName,
  unavailable,
});

const text = (r: InRecord) => Buffer.from(r.value).toString('utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('nats: two pull subscribers of one durable share the work, each record once', async (t) => {
  if (!(await available(t))) return;
  const a = await NatsStreamEngine.connect(BASE);
  const b = await NatsStreamEngine.connect(BASE);
  try {
    const name = streamName();
    const sa = await a.stream(name);
    const n = 300;
    await sa.publish(
      Array.from({ length: n }, (_, i) => ({ key: `k${i % 5}`, value: Buffer.from(`r${i}`) })),
    );
    const sb = await b.stream(name);
    const seen = new Map<string, number>();
    const per = [0, 0];
    let total = 0;
    const work = async (sub: Subscription, who: number) => {
      const end = Date.now() + 20_000;
      while (total < n && Date.now() < end) {
        const batch = await sub.next(7, 200);
        for (const r of batch.records) seen.set(text(r), (seen.get(text(r)) ?? 0) + 1);
        per[who] += batch.records.length;
        total += batch.records.length;
        await sleep(5); // "processing", so the other subscriber gets its turn
        if (batch.records.length > 0) await batch.ack();
      }
      await sub.close();
    };
    await Promise.all([work(sa.subscribe('shared'), 0), work(sb.subscribe('shared'), 1)]);
    assert.equal(seen.size, n, 'every record delivered');
    assert.ok(
      [...seen.values()].every((c) => c === 1),
      'no record delivered twice',
    );
    assert.ok(per[0] > 0 && per[1] > 0, `both subscribers got work (${per.join(' / ')})`);
    assert.equal(await sa.lag('shared'), 0);
  } finally {
    await a.close();
    await b.close();
  }
});

/** A separate process takes a batch and dies (SIGKILL) without acking or closing. */
test('nats: Batch.ack() waits for the server to confirm every ack, and fails when nobody confirms', async (t) => {
  if (!(await available(t))) return;
  const e = await NatsStreamEngine.connect(BASE);
  try {
    const name = streamName();
    const s = await e.stream(name);
    await s.publish(Array.from({ length: 50 }, (_, i) => ({ value: Buffer.from(`r${i}`) })));
    const sub = s.subscribe('acks');
    const first = await sub.next(20, 5000);
    assert.equal(first.records.length, 20);
    await first.ack();
    assert.equal(await s.lag('acks'), 30, 'confirmed acks are applied when ack() resolves');
    const second = await sub.next(30, 5000);
    assert.equal(second.records.length, 30);
    // with the stream (and its consumer) gone no one confirms: the ack must fail, not resolve
    await e.deleteStream(name);
    await assert.rejects(second.ack(), /ack not confirmed/);
    await sub.close();
  } finally {
    await e.close();
  }
});

async function consumeAndDie(name: string, group: string, ackWaitMs: number): Promise<number> {
  const code = `
    const { NatsStreamEngine } = await import(${JSON.stringify(`file://${ENGINE_JS}`)});
    const e = await NatsStreamEngine.connect(${JSON.stringify({ ...BASE, ackWaitMs })});
    const s = await e.stream(${JSON.stringify(name)});
    const b = await s.subscribe(${JSON.stringify(group)}).next(100, 5000);
    process.stdout.write('GOT ' + b.records.length + '\\n', () => process.kill(process.pid, 'SIGKILL'));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  clearTimeout(guard);
  const m = /GOT (\d+)/.exec(out);
  assert.ok(m, `child printed its batch (stderr: ${err})`);
  assert.equal(signal, 'SIGKILL');
  return Number(m[1]);
}

test('nats: records of a consumer that died without acking are redelivered after ack_wait', async (t) => {
  if (!(await available(t))) return;
  const ackWaitMs = 3000;
  const e = await NatsStreamEngine.connect({ ...BASE, ackWaitMs });
  try {
    const name = streamName();
    const s = await e.stream(name);
    await s.publish(['a', 'b', 'c', 'd', 'e'].map((v) => ({ value: Buffer.from(v) })));
    const diedAt = Date.now();
    assert.equal(await consumeAndDie(name, 'workers', ackWaitMs), 5);
    assert.equal(await s.lag('workers'), 5, 'delivered, unacknowledged records still count as lag');
    const sub = s.subscribe('workers');
    const got: InRecord[] = [];
    const end = Date.now() + 20_000;
    while (got.length < 5 && Date.now() < end) {
      const batch = await sub.next(10, 1000);
      got.push(...batch.records);
      if (batch.records.length > 0) await batch.ack();
    }
    assert.deepEqual(got.map(text).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.ok(Date.now() - diedAt >= ackWaitMs - 200, 'held back until ack_wait expired');
    await sub.close();
    assert.equal(await s.lag('workers'), 0);
  } finally {
    await e.close();
  }
});

// ---- server restart ---------------------------------------------------------------------------------

test('nats: a server kill -9 and restart under a publishing loop loses no acknowledged record', async (t) => {
  if (!(await available(t))) return;
  if (!(await available(t, await natsRestartUnsupported()))) return;
  const e = await NatsStreamEngine.connect({ ...BASE, requestTimeoutMs: 2000 });
  try {
    const name = streamName();
    const s = await e.stream(name);
    const acked: string[] = [];
    let failures = 0;
    let restarted = false;
    let ackedAfterRestart = 0;
    const loop = (async () => {
      const end = Date.now() + 90_000;
      let i = 0;
      while (Date.now() < end && !(restarted && ackedAfterRestart >= 100)) {
        const batch = Array.from({ length: 10 }, (_, j) => `r${i + j}`);
        try {
          // the message id makes a resend after a lost PubAck a duplicate the server drops
          await s.publish(batch.map((v) => ({ key: 'k', value: Buffer.from(v), msgId: `${name}-${v}` })));
          acked.push(...batch);
          if (restarted) ackedAfterRestart += batch.length;
          i += batch.length;
        } catch {
          failures++;
          await sleep(100); // and resend the same batch
        }
      }
    })();
    try {
      const warm = Date.now() + 30_000;
      while (acked.length < 200 && Date.now() < warm) await sleep(20);
      assert.ok(acked.length >= 200, 'publishing works before the restart');
      await killNats();
      await sleep(500);
    } finally {
      await ensureNats();
      restarted = true;
    }
    await loop;
    assert.ok(failures > 0, 'the loop saw the outage');
    assert.ok(ackedAfterRestart >= 100, 'publishing resumed after the restart');

    const sub = s.subscribe('check');
    const got = new Map<string, number>();
    const end = Date.now() + 30_000;
    while (got.size < acked.length && Date.now() < end) {
      const batch = await sub.next(500, 1000);
      for (const r of batch.records) got.set(text(r), (got.get(text(r)) ?? 0) + 1);
      if (batch.records.length > 0) await batch.ack();
    }
    await sub.close();
    console.log(`# restart: ${acked.length} records acknowledged, ${failures} failed publishes retried`);
    const lost = acked.filter((v) => !got.has(v));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged records lost`);
    const dup = [...got.entries()].filter(([, c]) => c > 1);
    assert.deepEqual(dup, [], 'resends were deduplicated by Nats-Msg-Id');
  } finally {
    await ensureNats(); // whatever happened, leave the server up
    await e.close();
  }
});
