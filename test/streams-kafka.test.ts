/**
 * The Kafka engine against a real broker: the shared stream conformance suite, plus what only Kafka
 * has — wire compatibility of records with other Kafka clients, partitions shared by the members of a
 * group, rebalances, and a broker killed and restarted under a publishing loop.
 *
 * Needs a broker at $FURROW_KAFKA_BROKERS (default 127.0.0.1:9092): `npm run dev-services -- start kafka`.
 * Without one every test skips with the reason; under CI=true they fail instead. The restart test runs
 * its own private broker (scripts/dev-services.sh with another port and state dir) so that it never
 * disturbs the shared one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Consumer } from '@platformatic/kafka';
import { type KafkaStream, KafkaStreamEngine } from '../src/streams/kafka/engine.js';
import { partitionForKey } from '../src/streams/kafka/publisher.js';
import type { InRecord, Subscription } from '../src/streams/types.js';
import { hostPortOpen } from './helpers/net.js';
import { streamConformance } from './helpers/stream-conformance.js';

const run = promisify(execFile);
const BROKERS = (process.env.FURROW_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const SCRIPT = resolve(import.meta.dirname, '../../scripts/dev-services.sh');
const prefix = `furrow-test-${randomUUID().slice(0, 6)}-`;

let availability: Promise<string | undefined> | undefined;
function unavailable(): Promise<string | undefined> {
  availability ??= hostPortOpen(BROKERS[0]).then((ok) =>
    ok ? undefined : `no Kafka broker at ${BROKERS[0]} (start one: npm run dev-services -- start kafka)`,
  );
  return availability;
}

/** Skip (or fail under CI) when no broker answers; returns true when the test may run. */
async function needBroker(t: { skip(msg: string): void }, why?: string): Promise<boolean> {
  const reason = why ?? (await unavailable());
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`Kafka unavailable under CI=true: ${reason}`);
  console.log(`# skipped: ${reason}`);
  t.skip(reason);
  return false;
}

const engineFor = (brokers = BROKERS, extra: Record<string, unknown> = {}) =>
  new KafkaStreamEngine({ brokers, topicPrefix: prefix, partitions: 4, ...extra });

const text = (r: InRecord) => Buffer.from(r.value).toString('utf8');

async function drainUntil(
  sub: Subscription,
  want: (got: InRecord[]) => boolean,
  ms: number,
): Promise<InRecord[]> {
  const out: InRecord[] = [];
  const end = Date.now() + ms;
  while (!want(out) && Date.now() < end) {
    const b = await sub.next(500, 500);
    out.push(...b.records);
    if (b.records.length > 0) await b.ack();
  }
  return out;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

streamConformance({
  name: 'kafka',
  engine: async () => engineFor(),
  orderedPerKeyOnly: true,
  unavailable,
  waitMs: 20_000,
});

test('kafka: records are stored as plain Kafka records (key, value bytes, Java partitioner), readable by another client', async (t) => {
  if (!(await needBroker(t))) return;
  const engine = engineFor();
  try {
    const s = await engine.stream(`wire-${randomUUID().slice(0, 6)}`);
    const binary = Buffer.concat([
      Buffer.from([0x0b, 0x7a, 0x69, 0x00, 0x00]),
      randomBytes(200),
      Buffer.from([0]),
    ]);
    const tsv = Buffer.from('app\tweb\t2026-01-01 00:00:00.000\t\t\tpage_view\n'.replace('\n', ''));
    const sent = [
      { key: 'b1f7c6b0-0c3f-4c53-9d53-35c4e1b1c0aa', value: binary },
      { key: 'another-key', value: tsv },
      { value: Buffer.from('{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/x/jsonschema/1-0-0"}') },
    ];
    await s.publish(sent);
    const raw = new Consumer({
      clientId: 'wire-check',
      groupId: `wire-${randomUUID()}`,
      bootstrapBrokers: BROKERS,
    });
    try {
      const stream = await raw.consume({
        topics: [s.topic],
        mode: 'earliest',
        autocommit: false,
        maxWaitTime: 200,
      });
      const got: Array<{ key: Buffer | undefined; value: Buffer; partition: number; headers: number }> = [];
      for await (const m of stream) {
        got.push({ key: m.key, value: m.value, partition: m.partition, headers: m.headers.size });
        if (got.length === sent.length) break;
      }
      await stream.close();
      for (const want of sent) {
        const m = got.find((g) => g.value.equals(want.value));
        assert.ok(m, 'value bytes arrive unchanged, without an envelope');
        assert.equal(m.headers, 0, 'no headers added');
        if (want.key === undefined) {
          assert.ok(m.key === undefined || m.key.length === 0, 'no key stays no key');
        } else {
          assert.equal(m.key?.toString('utf8'), want.key);
          assert.equal(
            m.partition,
            partitionForKey(Buffer.from(want.key), 4),
            'same partition as the Java client',
          );
        }
      }
    } finally {
      await raw.close();
    }
  } finally {
    await engine.close();
  }
});

test('kafka: fetches and commits use separate connections, so a commit never waits behind a long-polling fetch', async (t) => {
  if (!(await needBroker(t))) return;
  // Kafka answers one connection's requests in order: on a shared connection every commit waited out
  // the fetch's long poll (fetchMaxWaitMs). Watch which connection each request goes out on.
  const FETCH = 1;
  const OFFSET_COMMIT = 8;
  const used = new Map<number, Set<object>>([
    [FETCH, new Set()],
    [OFFSET_COMMIT, new Set()],
  ]);
  const CHANNEL = 'tracing:plt:kafka:connections:api:start';
  const onRequest = (message: unknown) => {
    const m = message as { apiKey?: number; connection?: object };
    if (m.apiKey !== undefined && m.connection) used.get(m.apiKey)?.add(m.connection);
  };
  subscribe(CHANNEL, onRequest);
  const engine = engineFor(BROKERS, { consumer: { fetchMaxWaitMs: 2_000 } });
  try {
    const s = await engine.stream(`conns-${randomUUID().slice(0, 6)}`);
    await s.publish(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)) })));
    const sub = s.subscribe('conns');
    const got = await drainUntil(sub, (g) => g.length >= 20, 30_000);
    assert.equal(got.length, 20);
    await sub.close();
  } finally {
    unsubscribe(CHANNEL, onRequest);
    await engine.close();
  }
  const fetches = used.get(FETCH)!;
  const commits = used.get(OFFSET_COMMIT)!;
  assert.ok(fetches.size > 0 && commits.size > 0, 'both fetches and commits were sent');
  for (const c of commits) assert.ok(!fetches.has(c), 'no commit shares a connection with fetches');
});

async function stableGroup(subs: Array<{ assignedPartitions: number[] }>, partitions: number): Promise<void> {
  await waitFor(
    () => {
      const all = subs.flatMap((s) => s.assignedPartitions);
      return (
        subs.every((s) => s.assignedPartitions.length > 0) &&
        new Set(all).size === partitions &&
        all.length === partitions
      );
    },
    30_000,
    'the group to settle with every member owning partitions',
  );
}

test('kafka: two members of one group split the partitions and together get every record exactly once', async (t) => {
  if (!(await needBroker(t))) return;
  const engine = engineFor();
  try {
    const s: KafkaStream = await engine.stream(`split-${randomUUID().slice(0, 6)}`);
    const a = s.subscribe('workers');
    const b = s.subscribe('workers');
    // both must be members before anything is read, or the first would take (and ack) everything
    await Promise.all([a.next(1, 200), b.next(1, 200)]);
    await stableGroup([a, b], 4);
    const n = 400;
    await s.publish(
      Array.from({ length: n }, (_, i) => ({ key: `user-${i % 40}`, value: Buffer.from(`r${i}`) })),
    );
    const seen: string[] = [];
    const fromA: string[] = [];
    const fromB: string[] = [];
    const pump = async (sub: Subscription, mine: string[]) => {
      const end = Date.now() + 30_000;
      while (seen.length < n && Date.now() < end) {
        const batch = await sub.next(100, 300);
        for (const r of batch.records) {
          mine.push(text(r));
          seen.push(text(r));
        }
        await batch.ack();
      }
    };
    await Promise.all([pump(a, fromA), pump(b, fromB)]);
    assert.ok(
      fromA.length > 0 && fromB.length > 0,
      `both members received records (${fromA.length}/${fromB.length})`,
    );
    assert.equal(seen.length, n, 'no duplicates');
    assert.equal(new Set(seen).size, n, 'every record');
    assert.equal(await s.lag('workers'), 0);
    await Promise.all([a.close(), b.close()]);
  } finally {
    await engine.close();
  }
});

test('kafka: a member leaving hands its partitions over, and its unacknowledged records are not lost', async (t) => {
  if (!(await needBroker(t))) return;
  const engine = engineFor();
  try {
    const s = await engine.stream(`leave-${randomUUID().slice(0, 6)}`);
    const a = s.subscribe('pool');
    const b = s.subscribe('pool');
    await Promise.all([a.next(1, 200), b.next(1, 200)]);
    await stableGroup([a, b], 4);
    const n = 300;
    const all = Array.from({ length: n }, (_, i) => `v${i}`);
    await s.publish(all.map((v, i) => ({ key: `k${i % 16}`, value: Buffer.from(v) })));
    // a takes a batch and dies before acknowledging it
    let taken: InRecord[] = [];
    for (let end = Date.now() + 10_000; taken.length === 0 && Date.now() < end; ) {
      taken = [...(await a.next(50, 500)).records];
    }
    assert.ok(taken.length > 0, 'the leaving member had records in hand');
    await a.close();
    const got = await drainUntil(b, (g) => new Set(g.map(text)).size >= n, 30_000);
    assert.deepEqual(
      [...new Set(got.map(text))].sort(),
      all.slice().sort(),
      'the remaining member got everything',
    );
    assert.deepEqual(b.assignedPartitions, [0, 1, 2, 3]);
    assert.equal(await s.lag('pool'), 0);
    await b.close();
  } finally {
    await engine.close();
  }
});

test('kafka: a broker killed and restarted under a publishing loop loses no acknowledged record', async (t) => {
  // a private broker on its own port and state dir, so the shared one is never disturbed
  const java = await run('java', ['-version']).then(
    () => undefined,
    () => 'java is not installed',
  );
  if (!(await needBroker(t, java ?? (await unavailable())))) return;
  const port = 19092 + Math.floor(Math.random() * 400) * 2;
  const state = await mkdtemp(join(tmpdir(), 'furrow-kafka-restart-'));
  const env = {
    ...process.env,
    FURROW_KAFKA_PORT: String(port),
    FURROW_KAFKA_STATE: state,
    FURROW_KAFKA_HEAP: '384m',
    // C1 only and serial GC: a broker that starts fast and needs no peak throughput
    FURROW_KAFKA_JVM_OPTS: '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC',
    FURROW_KAFKA_START_TIMEOUT: '60',
  };
  const script = (...args: string[]) => run('bash', [SCRIPT, ...args], { env, timeout: 600_000 });
  const broker = [`127.0.0.1:${port}`];
  const t0 = Date.now();
  const log = (what: string) => console.log(`# restart test +${Date.now() - t0} ms: ${what}`);
  await script('start', 'kafka');
  log('private broker up');
  const engine = engineFor(broker, { deliveryTimeoutMs: 60_000, batching: { lingerMs: 2 } });
  try {
    const s = await engine.stream('restart');
    const sub = s.subscribe('through-restart');
    const acknowledged = new Set<string>();
    const consumed = new Set<string>();
    let failures = 0;
    let stop = false;
    let published = false;
    let drainEnd = Number.POSITIVE_INFINITY;
    let i = 0;
    const publishing = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 20 }, () => `m${i++}`);
        try {
          await s.publish(batch.map((v) => ({ key: v.slice(-2), value: Buffer.from(v) })));
          for (const v of batch) acknowledged.add(v);
        } catch {
          failures++;
        }
      }
    })();
    const consuming = (async () => {
      while (!published || consumed.size < acknowledged.size) {
        const batch = await sub.next(500, 300);
        for (const r of batch.records) consumed.add(text(r));
        await batch.ack();
        if (published && batch.records.length === 0 && Date.now() > drainEnd) break;
      }
    })();
    await waitFor(() => acknowledged.size >= 500, 30_000, 'records before the crash');
    const pid = Number((await readFile(join(state, 'kafka.pid'), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    const atCrash = acknowledged.size;
    log(`broker killed after ${atCrash} acknowledged records`);
    await new Promise((r) => setTimeout(r, 500));
    await script('start', 'kafka');
    log('broker restarted');
    await waitFor(() => acknowledged.size >= atCrash + 500, 60_000, 'publishing to resume after the restart');
    stop = true;
    await publishing;
    drainEnd = Date.now() + 30_000;
    published = true;
    log('publishing stopped');
    await consuming;
    // a fresh group reads every acknowledged record from the restarted broker's log
    log('consumer drained');
    const fresh = s.subscribe(`after-${randomUUID().slice(0, 6)}`);
    const again = await drainUntil(fresh, (g) => g.length >= acknowledged.size, 30_000);
    await fresh.close();
    log('log read by a fresh group');
    const stored = new Set(again.map(text));
    const notStored = [...acknowledged].filter((v) => !stored.has(v));
    const notConsumed = [...acknowledged].filter((v) => !consumed.has(v));
    console.log(
      `# restart: ${acknowledged.size} acknowledged (${atCrash} before the kill), ${stored.size} in the log,` +
        ` ${consumed.size} consumed through the restart, stats ${JSON.stringify(engine.publishStats)}`,
    );
    assert.equal(failures, 0, 'every publish was retried through the outage');
    assert.deepEqual(
      notStored.slice(0, 10),
      [],
      `${notStored.length} acknowledged records are not in the log`,
    );
    assert.deepEqual(
      notConsumed.slice(0, 10),
      [],
      `${notConsumed.length} acknowledged records never consumed`,
    );
    await sub.close();
  } finally {
    await engine.close();
    await script('stop', 'kafka').catch(() => undefined);
    await rm(state, { recursive: true, force: true });
  }
});
