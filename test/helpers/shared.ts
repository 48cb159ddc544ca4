/**
 * Locates the shared reference material (spec/, the Iglu Central mirror, …) that some tests read in
 * place. It lives beside the repository (`../shared`) or wherever `FURROW_SHARED` points.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestContext } from 'node:test';

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/** The shared directory, or null when it is not available. */
export function sharedDir(): string | null {
  const fromEnv = process.env.FURROW_SHARED;
  if (fromEnv !== undefined && fromEnv !== '') return isDir(fromEnv) ? resolve(fromEnv) : null;
  const beside = resolve(process.cwd(), '../shared');
  return isDir(beside) ? beside : null;
}

/**
 * The shared directory for a test that needs it. Without it the test is skipped (with the reason
 * printed) on a developer machine, but fails under CI, where a silently skipped suite would hide
 * the loss of coverage.
 */
export function requireShared(t: TestContext): string | undefined {
  const dir = sharedDir();
  if (dir !== null) return dir;
  const where = process.env.FURROW_SHARED
    ? `FURROW_SHARED=${process.env.FURROW_SHARED} is not a directory`
    : `${resolve(process.cwd(), '../shared')} not found and FURROW_SHARED is not set`;
  const reason = `shared reference data unavailable (${where})`;
  if (process.env.CI === 'true') assert.fail(`${reason}; CI must run this test`);
  process.stderr.write(`skipping "${t.name}": ${reason}\n`);
  t.skip(reason);
  return undefined;
}
