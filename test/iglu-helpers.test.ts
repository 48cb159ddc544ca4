import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { requireShared, sharedDir } from './helpers/shared.js';

function withEnv(env: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (vals: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vals)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(env);
  try {
    fn();
  } finally {
    apply(saved);
  }
}

test('requireShared skips locally and fails under CI when shared data is missing', () => {
  let skipped: string | undefined;
  const t = {
    name: 'probe',
    skip: (msg?: string) => {
      skipped = msg;
    },
  } as unknown as TestContext;
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    withEnv({ FURROW_SHARED: '/nonexistent/furrow-shared', CI: undefined }, () => {
      assert.equal(sharedDir(), null);
      assert.equal(requireShared(t), undefined);
      assert.match(skipped ?? '', /FURROW_SHARED=\/nonexistent\/furrow-shared is not a directory/);
    });
    withEnv({ FURROW_SHARED: '/nonexistent/furrow-shared', CI: 'true' }, () => {
      assert.throws(() => requireShared(t), /CI must run this test/);
    });
  } finally {
    process.stderr.write = write;
  }
});

test('FURROW_SHARED points at the shared directory', () => {
  withEnv({ FURROW_SHARED: process.cwd() }, () => assert.equal(sharedDir(), process.cwd()));
});
