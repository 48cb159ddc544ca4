#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node's built-in test runner.
// Node 20's `--test` has no glob support, so the file list is built here.
// Usage: node scripts/run-tests.mjs [substring filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
const reporter = process.env.TEST_REPORTER ?? (process.stdout.isTTY ? 'spec' : 'spec');
const res = spawnSync(
  process.execPath,
  ['--test', `--test-reporter=${reporter}`, '--test-concurrency=2', ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(res.status ?? 1);
