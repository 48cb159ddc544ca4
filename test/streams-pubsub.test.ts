/**
 * The Google Pub/Sub engine against the Pub/Sub emulator (PUBSUB_EMULATOR_HOST, default
 * 127.0.0.1:8085): the shared stream conformance suite, plus redelivery of the records a consumer held
 * when it died (after the subscription's ack deadline).
 *
 * When nothing listens there, the test starts the emulator that ships with the Google Cloud CLI
 * (`gcloud beta emulators pubsub start`, which needs Java), waits for it (bounded) and stops it at the
 * end. Skipped with the reason printed when gcloud is absent; a failure under CI=true.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { PubSubStreamsOptions } from '../src/streams/pubsub/config.js';
import { PubSubStreamEngine } from '../src/streams/pubsub/engine.js';
import type { InRecord } from '../src/streams/types.js';
import { hostPortOpen } from './helpers/net.js';
import { streamConformance } from './helpers/stream-conformance.js';

const execFileP = promisify(execFile);
const HOST = process.env.PUBSUB_EMULATOR_HOST || '127.0.0.1:8085';
process.env.PUBSUB_EMULATOR_HOST = HOST;
// no GCE metadata server here: skip google-auth's probe of it (and its warning per client)
process.env.METADATA_SERVER_DETECTION ??= 'none';
const PROJECT = process.env.PUBSUB_PROJECT_ID || 'furrow-test';
const RUN = randomUUID().slice(0, 6);
const BASE: PubSubStreamsOptions = { projectId: PROJECT, topicPrefix: 'furrowtest-', ackDeadlineSeconds: 10 };
const ENGINE_JS = fileURLToPath(new URL('../src/streams/pubsub/engine.js', import.meta.url));
const START_WAIT_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (r: InRecord) => Buffer.from(r.value).toString('utf8');

let emulator: ChildProcess | undefined;
let emulatorLog = '';
let availability: Promise<string | undefined> | undefined;

/** Undefined when an emulator answers (starting one if needed), else why not. Memoized. */
function unavailable(): Promise<string | undefined> {
  availability ??= (async () => {
    if (await hostPortOpen(HOST)) return undefined;
    try {
      await execFileP('gcloud', ['--version'], { timeout: 30_000 });
    } catch {
      return `nothing listens on ${HOST} and gcloud (Google Cloud CLI with the pubsub-emulator component) is not installed`;
    }
    const [, port] = HOST.split(':');
    // its own process group, so the whole tree (gcloud → shell → java) can be stopped
    emulator = spawn(
      'gcloud',
      ['beta', 'emulators', 'pubsub', 'start', `--host-port=127.0.0.1:${port}`, `--project=${PROJECT}`],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    emulator.stdout?.on('data', (c: Buffer) => (emulatorLog += c.toString()));
    emulator.stderr?.on('data', (c: Buffer) => (emulatorLog += c.toString()));
    let exited = false;
    emulator.once('exit', () => (exited = true));
    const end = Date.now() + START_WAIT_MS;
    while (Date.now() < end && !exited) {
      if (await hostPortOpen(HOST)) {
        console.log(`# started the Pub/Sub emulator on ${HOST}`);
        return undefined;
      }
      await sleep(250);
    }
    await stopEmulator();
    return `the Pub/Sub emulator did not start within ${START_WAIT_MS / 1000}s: ${emulatorLog.slice(-600)}`;
  })();
  return availability;
}

async function stopEmulator(): Promise<void> {
  const child = emulator;
  emulator = undefined;
  if (child?.pid === undefined || child.exitCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 5000);
  await gone;
  clearTimeout(timer);
  // the java process may outlive the gcloud wrapper briefly; it is in the same group
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const created: string[] = [];
let seq = 0;
function streamName(): string {
  const n = `conf-${RUN}-${++seq}`;
  created.push(n);
  return n;
}

after(async () => {
  try {
    if (created.length > 0 && (await unavailable()) === undefined) {
      const e = await PubSubStreamEngine.connect(BASE);
      for (const n of created) await e.deleteStream(n).catch(() => undefined);
      await e.close();
    }
  } finally {
    await stopEmulator();
  }
});

streamConformance({
  name: 'pubsub',
  engine: () => PubSubStreamEngine.connect(BASE),
  streamName,
  unavailable,
});

/** A separate process takes a batch and dies (SIGKILL) without acking, nacking or closing. */
async function consumeAndDie(name: string, group: string): Promise<number> {
  const code = `
    const { PubSubStreamEngine } = await import(${JSON.stringify(`file://${ENGINE_JS}`)});
    const e = await PubSubStreamEngine.connect(${JSON.stringify(BASE)});
    const s = await e.stream(${JSON.stringify(name)});
    const b = await s.subscribe(${JSON.stringify(group)}).next(100, 10000);
    process.stdout.write('GOT ' + b.records.length + '\\n', () => process.kill(process.pid, 'SIGKILL'));
  `;
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PUBSUB_EMULATOR_HOST: HOST },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  clearTimeout(guard);
  const m = /GOT (\d+)/.exec(out);
  assert.ok(m, `child printed its batch (stderr: ${err.slice(-800)})`);
  assert.equal(signal, 'SIGKILL');
  return Number(m[1]);
}

/** Skip (or fail under CI=true) when the emulator is absent; true when the test should run. */
async function available(t: { skip(msg: string): void }): Promise<boolean> {
  const why = await unavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`Pub/Sub emulator unavailable under CI=true: ${why}`);
  console.log(`# skipped: ${why}`);
  t.skip(why);
  return false;
}

test('pubsub: records of a consumer that died without acking are redelivered after the ack deadline', async (t) => {
  if (!(await available(t))) return;
  const e = await PubSubStreamEngine.connect(BASE);
  try {
    const name = streamName();
    const s = await e.stream(name);
    await s.publish(['a', 'b', 'c', 'd', 'e'].map((v) => ({ value: Buffer.from(v) })));
    const diedAt = Date.now();
    assert.equal(await consumeAndDie(name, 'workers'), 5);
    const sub = s.subscribe('workers');
    const first = await sub.next(10, 1000);
    assert.equal(first.records.length, 0, 'held by the dead consumer until its ack deadline');
    const got: InRecord[] = [];
    const end = Date.now() + 45_000;
    while (got.length < 5 && Date.now() < end) {
      const batch = await sub.next(10, 1000);
      got.push(...batch.records);
      if (batch.records.length > 0) await batch.ack();
    }
    assert.deepEqual(got.map(text).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.ok(Date.now() - diedAt >= 9000, 'not before the 10 s ack deadline');
    const none = await sub.next(10, 1500);
    assert.equal(none.records.length, 0, 'acknowledged records are not delivered again');
    await sub.close();
  } finally {
    await e.close();
  }
});

test('pubsub: records pulled ahead of next() are given back on close, not held until the ack deadline', async (t) => {
  if (!(await available(t))) return;
  // a deadline far beyond the test's waits: a buffered record that close() forgot would not come back
  const e = await PubSubStreamEngine.connect({ ...BASE, ackDeadlineSeconds: 600 });
  try {
    const name = streamName();
    const s = await e.stream(name);
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    const first = s.subscribe('prefetch');
    await first.next(1, 10); // creates the subscription; it sees what is published from now on
    await s.publish(values.map((v) => ({ value: Buffer.from(v) })));
    const taken = await first.next(3, 10_000);
    assert.ok(taken.records.length >= 1 && taken.records.length <= 3, 'at most the asked-for records');
    await taken.ack();
    // pulls run in the background: give them time to buffer the rest before closing
    await sleep(1000);
    await first.close();
    const second = s.subscribe('prefetch');
    const got: InRecord[] = [...taken.records];
    const until = Date.now() + 20_000;
    while (got.length < values.length && Date.now() < until) {
      const b = await second.next(100, 1000);
      got.push(...b.records);
      if (b.records.length > 0) await b.ack();
    }
    assert.deepEqual(got.map(text).sort(), values.slice().sort(), 'every record once, the rest redelivered');
    await second.close();
  } finally {
    await e.close();
  }
});

test('pubsub: an idle subscription pauses between empty pulls instead of spinning', async (t) => {
  if (!(await available(t))) return;
  const e = await PubSubStreamEngine.connect(BASE);
  try {
    const s = await e.stream(streamName());
    const sub = s.subscribe('idle');
    await sub.next(1, 10);
    let pulls = 0;
    const pull = e.subscriber.pull.bind(e.subscriber);
    e.subscriber.pull = ((...args: Parameters<typeof pull>) => {
      pulls++;
      return pull(...args);
    }) as typeof e.subscriber.pull;
    const none = await sub.next(10, 2000);
    assert.equal(none.records.length, 0);
    // a loop without a pause re-pulls as soon as the server answers "nothing" (~1,000 pulls/s here);
    // with it, each of the pullers pulls at most about ten times a second
    assert.ok(pulls < 100, `${pulls} pulls in 2 s of idling`);
    await sub.close();
  } finally {
    await e.close();
  }
});
