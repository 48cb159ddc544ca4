/**
 * Process helpers for the HTTP benchmarks: start a child pinned to one core with `taskset`, read its CPU
 * time and peak RSS from /proc, and describe the machine (kernel, CPU, load average) for the report.
 *
 * @example
 * const child = spawnPinned(0, process.execPath, ['server.js']);
 * const cpu0 = procCpuSeconds(child.pid!);
 * // … load …
 * const serverCpu = procCpuSeconds(child.pid!) - cpu0; // seconds of CPU, all threads
 * const { hwmMb } = procMemory(child.pid!);
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file compiles to `<outDir>/bench/lib/proc.js`, `<outDir>` one level deep). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The Iglu schemas the end-to-end benches resolve from: the shared Iglu Central mirror, else ./schemas. */
export function defaultSchemasDir(): string {
  return (
    [join(ROOT, '..', 'shared', 'iglu-central'), '/work/shared/iglu-central'].find((p) => existsSync(p)) ??
    join(ROOT, 'schemas')
  );
}
/** The compiled `bench/lib` folder (where the helper entry points such as baseline-server.js live). */
export const LIB_DIR = fileURLToPath(new URL('./', import.meta.url));

let clkTck: number | undefined;
/** Kernel clock ticks per second (units of utime/stime in /proc/<pid>/stat). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a live process (all its threads), in seconds; NaN if it is gone. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces; fields after the closing parenthesis are fixed
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return (utime + stime) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** Current and peak resident set size of a live process, in MB (from /proc/<pid>/status). */
export function procMemory(pid: number): { rssMb: number; hwmMb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: Number.NaN, hwmMb: Number.NaN };
  }
}

/** Whether `taskset` can be used (it is util-linux; CI and dev machines here have it). */
export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns `cmd args` pinned to `core` (taskset execs the command, so the child's pid is the command's).
 * With `core` undefined (or no taskset) the command runs unpinned.
 */
export function spawnPinned(
  core: number | undefined,
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): ChildProcess {
  if (core === undefined || !hasTaskset()) return spawn(cmd, args, opts);
  return spawn('taskset', ['-c', String(core), cmd, ...args], opts);
}

export interface Completed {
  code: number | null;
  stdout: string;
  stderr: string;
  /** user + system CPU seconds of the command (bash `times` for its children) */
  cpuSeconds: number;
  wallSeconds: number;
}

/**
 * Runs a command to completion pinned to `core`, measuring its CPU time: bash runs it as a child and
 * prints `times` afterwards, which covers the exited child (its /proc entry is gone by then).
 */
export function runPinnedMeasured(
  core: number | undefined,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Completed> {
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const pin = core !== undefined && hasTaskset() ? `taskset -c ${core} ` : '';
  const script = `${pin}${quoted}; rc=$?; echo "@@times@@" >&2; times >&2; exit $rc`;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer =
      opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer !== undefined) clearTimeout(timer);
      const at = stderr.lastIndexOf('@@times@@');
      let cpuSeconds = Number.NaN;
      if (at !== -1) {
        // `times` prints two lines: the shell's own user/sys, then its children's
        const lines = stderr.slice(at).split('\n').slice(1, 3);
        const children = lines[1] ?? '';
        const parts = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
        if (parts.length === 2) cpuSeconds = parts[0] + parts[1];
        stderr = stderr.slice(0, at);
      }
      resolve({ code, stdout, stderr, cpuSeconds, wallSeconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** Waits for a child to print a line matching `re` on stdout or stderr; resolves with the match. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re} in output:\n${seen.slice(-2000)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m !== null) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before ${re}:\n${seen.slice(-2000)}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}

/** SIGTERM (then SIGKILL after `timeoutMs`); resolves with the exit code. */
export async function stopChild(child: ChildProcess, timeoutMs = 60_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  loadavg: [number, number, number];
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  const [l1, l5, l15] = loadavg();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    kernel: release(),
    node: process.version,
    loadavg: [l1, l5, l15],
  };
}

export function formatLoad(l: readonly number[]): string {
  return l.map((x) => x.toFixed(2)).join(' / ');
}

/** Pids of running processes whose command line (arguments joined by spaces) matches `pattern`. */
export function pidsMatching(pattern: RegExp): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (pattern.test(cmd)) out.push(Number(name));
    } catch {
      // the process ended while listing
    }
  }
  return out;
}

/** CPU seconds used so far by these processes together (ended ones count as 0). */
export function cpuOf(pids: number[]): number {
  let s = 0;
  for (const pid of pids) {
    const c = procCpuSeconds(pid);
    if (Number.isFinite(c)) s += c;
  }
  return s;
}
