/**
 * Servers under test, each in its own process (optionally pinned to one core): the bare node:http
 * baseline and the real `furrow` CLI (collector role or `furrow up`). Each resolves once the process
 * prints its listening URL; `stop()` sends SIGTERM (furrow drains) and resolves with the exit code.
 *
 * @example
 * const s = await startFurrow(['collector', '--data-dir', dir, '--schemas', schemas], { core: 0 });
 * // … load s.url …
 * const { hwmMb } = s.memory(); const cpu = s.cpuSeconds();
 * await s.stop();
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIB_DIR, procCpuSeconds, procMemory, spawnPinned, stopChild, waitForOutput } from './proc.js';

export interface Server {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  /** CPU seconds used so far (all threads) */
  cpuSeconds(): number;
  memory(): { rssMb: number; hwmMb: number };
  /** stderr printed so far (last 64 KB) */
  log(): string;
  stop(timeoutMs?: number): Promise<number | null>;
}

async function wrap(child: ChildProcess, timeoutMs: number): Promise<Server> {
  let log = '';
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-65_536);
  };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  const m = await waitForOutput(child, /listening on (http:\/\/\S+)/, timeoutMs);
  const url = m[1].replace('localhost', '127.0.0.1');
  const pid = child.pid ?? -1;
  return {
    child,
    pid,
    url,
    port: Number(new URL(url).port),
    cpuSeconds: () => procCpuSeconds(pid),
    memory: () => procMemory(pid),
    log: () => log,
    stop: (t = 120_000) => stopChild(child, t),
  };
}

/** The bare node:http GIF server (bench/lib/baseline-server.ts). */
export function startBaseline(opts: { core?: number } = {}): Promise<Server> {
  const child = spawnPinned(opts.core, process.execPath, [join(LIB_DIR, 'baseline-server.js'), '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return wrap(child, 10_000);
}

/**
 * The node flags on the first line of `bin/furrow.js` (`#!/usr/bin/env -S node <flags>`), the launcher
 * users run: the bench starts the CLI with the same flags, so it measures what they get (test/launcher.test.ts
 * checks the image passes them too).
 */
export function launcherNodeFlags(): string[] {
  const first = readFileSync(join(LIB_DIR, '..', '..', '..', 'bin', 'furrow.js'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env(?: -S)? node((?: \S+)*)$/.exec(first);
  if (m === null) throw new Error(`bin/furrow.js does not start with a node shebang: ${first}`);
  return m[1].split(' ').filter((f) => f !== '');
}

/** `furrow <args>` from the same build as the bench (bench/lib/furrow-cli.ts), with the launcher's node flags. */
export function startFurrow(
  args: string[],
  opts: { core?: number; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {},
): Promise<Server> {
  const child = spawnPinned(
    opts.core,
    process.execPath,
    [...launcherNodeFlags(), ...(opts.nodeArgs ?? []), join(LIB_DIR, 'furrow-cli.js'), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  return wrap(child, 60_000);
}
