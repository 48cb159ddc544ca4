/** Runs the real `furrow` CLI in a child process, as a user would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin', 'furrow.js');

/** Starts `furrow <args>` on a free port and resolves with its base URL once it listens. */
export async function startFurrow(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; base: string; port: number }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, FURROW_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`furrow did not start: ${stderr}`)), 20_000);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`furrow exited with ${code}: ${stderr}`));
    });
  });
  return { child, base, port: Number(new URL(base).port) };
}
