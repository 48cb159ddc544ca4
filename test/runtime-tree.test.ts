/**
 * The container image's runtime tree, built without Docker by scripts/build-runtime-tree.sh (the script the
 * Dockerfile's build stage runs): it holds production dependencies only, needs no TypeScript to install,
 * and the `furrow` it ships starts (`furrow micro`, `furrow up` with a temp data directory) and answers
 * `/health/live`, without writing into the tree itself (the image runs with a read-only root filesystem).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = process.cwd();
const SCRIPT = join(REPO, 'scripts', 'build-runtime-tree.sh');

let work = '';
let tree = '';

/** path → size + mtime of every file in the tree, to prove a run wrote nothing into it */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else out.set(relative(dir, p), `${s.size}:${s.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

async function startFromTree(
  args: string[],
  cwd: string,
): Promise<{ child: ChildProcess; base: string; stderr: () => string }> {
  const child = spawn(process.execPath, [join(tree, 'bin', 'furrow.js'), ...args], {
    cwd,
    // what the image sets; HOME/TMPDIR point at writable scratch space, as the pod's volumes do
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOME: cwd,
      TMPDIR: cwd,
      FURROW_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`furrow did not start: ${stderr}`)), 60_000);
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
  return { child, base, stderr: () => stderr };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'furrow-runtime-tree-'));
    tree = join(work, 'app');
    const { stdout } = await run('bash', [SCRIPT, tree], {
      cwd: REPO,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    process.stderr.write(stdout.split('\n').filter(Boolean).slice(-1).join('\n') + '\n');
  },
  { timeout: 16 * 60_000 },
);

after(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

test('runtime tree: compiled CLI, launcher and production dependencies, no devDependencies', () => {
  const repoPkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const pkg = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8')) as { scripts?: unknown };
  assert.equal(pkg.scripts, undefined, 'no lifecycle scripts: a production install must not run tsc');
  assert.ok(existsSync(join(tree, 'bin', 'furrow.js')));
  assert.ok(existsSync(join(tree, 'dist', 'src', 'cli', 'main.js')));
  assert.ok(!existsSync(join(tree, 'dist', 'test')), 'tests are not shipped');
  assert.ok(!existsSync(join(tree, 'src')), 'TypeScript sources are not shipped');
  for (const dep of Object.keys(repoPkg.dependencies)) {
    assert.ok(existsSync(join(tree, 'node_modules', dep, 'package.json')), `dependency ${dep} present`);
  }
  for (const dev of Object.keys(repoPkg.devDependencies)) {
    // a devDependency may only be present when some production dependency needs it too
    const present = existsSync(join(tree, 'node_modules', dev, 'package.json'));
    assert.ok(!present || dev.startsWith('@types/'), `devDependency ${dev} must be absent`);
  }
  assert.ok(!existsSync(join(tree, 'node_modules', 'typescript')), 'no TypeScript in the runtime tree');
  assert.ok(!existsSync(join(tree, 'node_modules', '.bin', 'tsc')));
  const shipped = readdirSync(join(tree, 'dist', 'src'), { recursive: true }) as string[];
  assert.ok(!shipped.some((f) => f.endsWith('.test.js')), 'no unit tests in dist/src');
});

test('runtime tree: furrow --version and furrow micro answer, the tree stays unwritten', async () => {
  const before = snapshot(tree);
  const { stdout } = await run(process.execPath, [join(tree, 'bin', 'furrow.js'), '--version'], {
    cwd: work,
  });
  assert.match(stdout, /^furrow \d+\.\d+\.\d+/);
  const scratch = join(work, 'micro');
  await mkdir(scratch);
  const furrow = await startFromTree(['micro', '--port', '0', '--host', '127.0.0.1'], scratch);
  try {
    const live = await fetch(`${furrow.base}/health/live`);
    assert.equal(live.status, 200);
    const all = await fetch(`${furrow.base}/micro/all`);
    assert.equal(all.status, 200);
  } finally {
    assert.equal(await stop(furrow.child), 0, furrow.stderr());
  }
  assert.deepEqual(snapshot(tree), before, 'nothing was written into the runtime tree');
});

test('runtime tree: furrow up with a temp data directory answers /health/live and /metrics', async () => {
  const before = snapshot(tree);
  const scratch = join(work, 'up');
  const dataDir = join(scratch, 'data');
  const schemas = join(scratch, 'schemas');
  await mkdir(schemas, { recursive: true });
  const furrow = await startFromTree(
    [
      'up',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      '--schemas',
      schemas,
      '--workers',
      '1',
    ],
    scratch,
  );
  try {
    const live = await fetch(`${furrow.base}/health/live`);
    assert.equal(live.status, 200);
    const metrics = await (await fetch(`${furrow.base}/metrics`)).text();
    assert.match(metrics, /furrow_spool_bytes/);
    const px = await fetch(`${furrow.base}/i?e=pv&p=web&tv=js&eid=${crypto.randomUUID()}`);
    assert.equal(px.status, 200, 'a tracker pixel is persisted');
  } finally {
    assert.equal(await stop(furrow.child), 0, furrow.stderr());
  }
  assert.ok(existsSync(join(dataDir, 'warehouse.duckdb')), 'the DuckDB warehouse lives in the data dir');
  assert.deepEqual(snapshot(tree), before, 'nothing was written into the runtime tree');
});
