import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { backupCommand, restoreCommand } from '../cli/commands/backup.js';
import { parseDuckDbLoaderConfig } from '../loaders/duckdb/config.js';
import { DuckDbLoader } from '../loaders/duckdb/loader.js';
import { F, FIELD_COUNT } from '../protocol/enriched-fields.js';

async function quiet(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((c: string | Uint8Array) => {
    out += String(c);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

test('furrow backup --out-root --keep, then furrow restore --from <root> restores the newest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'furrow-backup-cli-'));
  try {
    const dataDir = join(dir, 'data');
    const loader = new DuckDbLoader(parseDuckDbLoaderConfig({}, { dataDir }));
    await loader.init();
    const f = new Array<string>(FIELD_COUNT).fill('');
    f[F.app_id] = 'cli';
    f[F.platform] = 'web';
    f[F.collector_tstamp] = '2026-01-01 00:00:00.000';
    f[F.event] = 'page_view';
    f[F.v_collector] = 'c';
    f[F.v_etl] = 'e';
    const lines = Array.from({ length: 10 }, () => {
      f[F.event_id] = randomUUID();
      return f.join('\t');
    });
    assert.equal((await loader.loadGood(lines)).inserted, 10);
    await loader.close();

    const root = join(dir, 'backups');
    const args = ['--warehouse', 'duckdb', '--data-dir', dataDir, '--out-root', root, '--keep', '1'];
    const first = await quiet(() => backupCommand.run(args));
    assert.equal(first.code, 0);
    assert.deepEqual(JSON.parse(first.out).tables, { 'atomic.bad_rows': 0, 'atomic.events': 10 });
    await new Promise((r) => setTimeout(r, 1100)); // names carry a timestamp to the second
    assert.equal((await quiet(() => backupCommand.run(args))).code, 0);
    assert.equal((await readdir(root)).length, 1, '--keep 1');

    await assert.rejects(
      quiet(() => restoreCommand.run(['--data-dir', dataDir, '--from', root])),
      /exists: pass --force/,
    );
    await rm(join(dataDir, 'warehouse.duckdb'));
    const restored = await quiet(() => restoreCommand.run(['--data-dir', dataDir, '--from', root]));
    assert.equal(restored.code, 0);
    assert.equal(JSON.parse(restored.out).tables['atomic.events'], 10);
    await assert.rejects(backupCommand.run(['--data-dir', dataDir]), /exactly one of --out and --out-root/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
