/**
 * The end every benchmark shares: the PASS/FAIL lines of its targets, the machine's load at the end, and
 * an optional JSON file of the whole run (`--json`).
 */
import { writeFileSync } from 'node:fs';
import { formatLoad } from './proc.js';

export interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

export function printTargets(
  checks: readonly Check[],
  loadAtEnd: readonly number[],
  startedMs: number,
  heading = '## Targets',
): void {
  console.log(`\n${heading}\n`);
  for (const c of checks) console.log(`- ${c.ok ? 'PASS' : 'FAIL'} ${c.what}: ${c.detail}`);
  console.log(
    `\nload average at end (1/5/15 min): ${formatLoad(loadAtEnd)}; total ${((Date.now() - startedMs) / 1000).toFixed(0)} s`,
  );
}

/** Writes the run as pretty JSON to `path` (nothing when undefined). */
export function writeJsonReport(path: string | undefined, report: Record<string, unknown>): void {
  if (path !== undefined) writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
