#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node's built-in test runner (Node 20's `--test` has no
// glob support, so the file list is built here), in two phases:
//   1. ordinary test files, two at a time;
//   2. disruptive or timing-sensitive files one at a time: they kill processes, restart shared servers
//      (NATS, PostgreSQL) or measure crash recovery, and must not run beside tests that use those servers.
// Ends with one plain `N passed, N failed, N skipped` line summing both phases.
// Usage: node scripts/run-tests.mjs [path substring filter ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SERIAL = [
  /distributed-e2e/,
  /streams-nats/,
  /streams-kafka/,
  /streams-pubsub/,
  /up-e2e/,
  /spool-crash/,
  /browser-tracker/,
];
const roots = ['dist/src', 'dist/test'];
const filters = process.argv.slice(2);
const files = [];
function walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => p.includes(f))))
      files.push(p);
  }
}
roots.forEach(walk);
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}

const serial = files.filter((f) => SERIAL.some((re) => re.test(f)));
const parallel = files.filter((f) => !serial.includes(f));

function run(list, concurrency) {
  return new Promise((resolve) => {
    if (list.length === 0) {
      resolve({ code: 0, pass: 0, fail: 0, skipped: 0 });
      return;
    }
    const child = spawn(
      process.execPath,
      ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...list],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      tail = (tail + d.toString()).slice(-4000);
    });
    child.on('exit', (code) => {
      const count = (name) => Number(new RegExp(`ℹ ${name} (\\d+)`).exec(tail)?.[1] ?? 0);
      resolve({ code: code ?? 1, pass: count('pass'), fail: count('fail'), skipped: count('skipped') });
    });
  });
}

const a = await run(parallel, 2);
const b = await run(serial, 1);
const pass = a.pass + b.pass;
const fail = a.fail + b.fail;
const skipped = a.skipped + b.skipped;
const failedToRun = (a.code !== 0 && a.fail === 0) || (b.code !== 0 && b.fail === 0);
console.log(`\n${pass} passed, ${fail} failed, ${skipped} skipped`);
process.exit(a.code !== 0 || b.code !== 0 || failedToRun ? 1 : 0);
