/**
 * `furrow drain-spool` (the command the scale-down drain Job runs): a spool left behind by a removed
 * collector is forwarded to the configured raw stream, every record exactly once here, and a second run
 * on the now-empty spool is a no-op that exits 0.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { drainSpoolCommand } from '../src/cli/commands/drain-spool.js';
import { Spool } from '../src/collector/spool.js';
import { EmbeddedStreamEngine } from '../src/streams/embedded/engine.js';

async function captureStdout(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

test('drain-spool forwards an orphaned spool to the raw stream, then finds it empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-drain-'));
  try {
    const spoolDir = join(dir, 'orphan', 'spool');
    const orphan = await Spool.open({ dir: spoolDir, durability: 'os' });
    const sent = Array.from({ length: 120 }, (_, i) => `record-${i}`);
    for (const r of sent) await orphan.append(new TextEncoder().encode(r));
    await orphan.close(); // the pod went away with its spool unforwarded

    const target = join(dir, 'cluster');
    const args = ['--dir', spoolDir, '--streams', 'embedded', '--data-dir', target, '--deadline', '60'];
    const first = await captureStdout(() => drainSpoolCommand.run(args));
    assert.equal(first.code, 0, first.out);
    const result = JSON.parse(first.out) as { drained: boolean; remaining: number; forwarded: number };
    assert.deepEqual([result.drained, result.remaining, result.forwarded], [true, 0, 120]);

    const engine = new EmbeddedStreamEngine({ dir: target, durability: 'os' });
    const raw = await engine.stream('raw');
    const sub = raw.subscribe('check');
    const got: string[] = [];
    while (got.length < sent.length) {
      const batch = await sub.next(1000, 500);
      if (batch.records.length === 0) break;
      for (const r of batch.records) got.push(new TextDecoder().decode(r.value));
      await batch.ack();
    }
    await sub.close();
    await engine.close();
    assert.deepEqual(got, sent, 'every record, once, in order');

    const second = await captureStdout(() => drainSpoolCommand.run(args));
    assert.equal(second.code, 0);
    assert.equal((JSON.parse(second.out) as { forwarded: number }).forwarded, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('drain-spool without --dir is a usage error', async () => {
  await assert.rejects(drainSpoolCommand.run([]), /--dir is required/);
});
