/**
 * The `furrow` launcher (bin/furrow.js) starts node with the flags on its shebang line, and the container
 * image starts node with the same ones, so a collector gets the same garbage-collection set-up however it
 * is run (see the flags' reason in bin/furrow.js).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { launcherNodeFlags } from '../bench/lib/servers.js';

const REPO = process.cwd();
const LAUNCHER = join(REPO, 'bin', 'furrow.js');

test('the image starts node with the launcher’s flags', () => {
  const flags = launcherNodeFlags();
  assert.ok(flags.includes('--single-threaded-gc'));
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  assert.ok(entry, 'Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entry[1]) as string[];
  const node = argv.indexOf('/nodejs/bin/node');
  const script = argv.indexOf('/app/bin/furrow.js');
  assert.ok(node >= 0 && script > node);
  assert.deepEqual(argv.slice(node + 1, script), flags);
});

test('run as a program, the launcher hands its flags to node', {
  skip: process.platform !== 'linux',
}, async () => {
  // what npm's bin link does: execute the file, so the kernel reads the shebang
  const child = spawn(LAUNCHER, ['micro', '--port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`furrow micro did not start: ${out}`)), 30_000);
      const seen = (d: Buffer) => {
        out += d.toString();
        if (/listening on http/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of launcherNodeFlags()) assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`);
  } finally {
    child.kill('SIGTERM');
  }
});
