/**
 * The machine's NATS JetStream server for tests: whether it answers, and the kill -9 / start cycle of the
 * restart tests (root, `start-stop-daemon` with the same arguments the machine boots it with). Shared by
 * test/streams-nats.test.ts and the distributed end-to-end tests; every restart leaves the server running.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { tcpOpen } from './net.js';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const NATS_URL = process.env.FURROW_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_BIN = '/usr/sbin/nats-server';
const NATS_ARGS = [
  '-a',
  '127.0.0.1',
  '-p',
  '4222',
  '-js',
  '-sd',
  '/var/lib/nats-server',
  '-l',
  '/var/log/nats-server.log',
];
const NATS_START = ['--start', '--oknodo', '--background', '--exec', NATS_BIN, '--', ...NATS_ARGS];

/** Why no JetStream server answers at NATS_URL, or undefined when one does. */
export async function natsUnavailable(): Promise<string | undefined> {
  const { connect } = await import('@nats-io/transport-node');
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000, reconnect: false });
    try {
      const info = await nc.request('$JS.API.INFO', '', { timeout: 2000 });
      const body = info.json<{ error?: { description: string } }>();
      if (body.error) return `JetStream not enabled at ${NATS_URL}: ${body.error.description}`;
    } finally {
      await nc.close();
    }
    return undefined;
  } catch (e) {
    return `no NATS JetStream at ${NATS_URL} (${e instanceof Error ? e.message : String(e)})`;
  }
}

async function natsPid(): Promise<number | undefined> {
  try {
    const { stdout } = await execFileP('pgrep', ['-x', 'nats-server']);
    const pid = Number(stdout.trim().split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Why the server cannot be killed and restarted here, or undefined when it can. */
export async function natsRestartUnsupported(): Promise<string | undefined> {
  if (!/^nats:\/\/(127\.0\.0\.1|localhost):4222$/.test(NATS_URL))
    return `NATS restart needs the local server on 127.0.0.1:4222 (FURROW_NATS_URL=${NATS_URL})`;
  if (process.getuid?.() !== 0) return 'NATS restart needs root (the server runs as root)';
  if (!existsSync(NATS_BIN)) return `NATS restart needs ${NATS_BIN}`;
  if ((await natsPid()) === undefined) return 'no nats-server process to restart';
  return undefined;
}

/** kill -9 a server process (NATS, the Kafka broker) and wait until it is gone. */
export async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
      await sleep(50);
    } catch {
      return;
    }
  }
  throw new Error(`pid ${pid} did not exit after SIGKILL`);
}

/** kill -9 the NATS server and wait until the process is gone. */
export async function killNats(): Promise<void> {
  const pid = await natsPid();
  assert.ok(pid, 'nats-server pid');
  await killAndWait(pid);
}

/** Starts the server unless it runs; waits until JetStream answers (it recovers its streams first). */
export async function ensureNats(): Promise<void> {
  if (!(await tcpOpen('127.0.0.1', 4222))) {
    await execFileP('start-stop-daemon', NATS_START);
    const end = Date.now() + 30_000;
    while (!(await tcpOpen('127.0.0.1', 4222)) && Date.now() < end) await sleep(100);
  }
  const end = Date.now() + 30_000;
  while ((await natsUnavailable()) !== undefined && Date.now() < end) await sleep(200);
}
