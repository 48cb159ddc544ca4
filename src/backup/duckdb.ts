/**
 * Backup and restore of a DuckDB warehouse (the `furrow up` / dev-overlay warehouse file).
 *
 * Method: `EXPORT DATABASE … (FORMAT parquet)` from a connection that holds the database file's
 * exclusive lock, after a `CHECKPOINT`. Why this and not a file copy:
 * - consistent by construction: DuckDB lets one process open a file read-write and refuses every other
 *   opener, so holding the lock proves no loader is writing, and the export reads one snapshot;
 * - portable: Parquet + `schema.sql` re-import into any later DuckDB version, whereas a copied `.duckdb`
 *   file is tied to its storage version (and a copy taken while a writer checkpoints is torn);
 * - verifiable: each table's row count is recorded and every file is checksummed (manifest.json), and a
 *   restore checks both.
 * The price is that the warehouse's writer must be stopped while the backup runs (seconds to minutes
 * for a dev-sized warehouse); the Kubernetes CronJob does that by pausing the StatefulSet (pause.ts).
 *
 * Restore builds the database in a new file beside the target, verifies the row counts, then renames it
 * over the target, so a failed restore leaves the old warehouse untouched.
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  BackupError,
  type BackupManifest,
  type BackupTable,
  compareCounts,
  describeFiles,
  fsyncPath,
  MANIFEST_FORMAT,
  readManifest,
  verifyFiles,
  writeManifest,
} from './manifest.js';

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function ident(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function withDatabase<T>(path: string, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  let db: DuckDBInstance;
  try {
    db = await DuckDBInstance.create(path);
  } catch (e) {
    const msg = (e as Error).message;
    if (/lock/i.test(msg)) {
      throw new BackupError(
        `${path} is open in another process (a running loader or furrow up): stop the writer first (${msg})`,
      );
    }
    throw e;
  }
  try {
    const conn = await db.connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  } finally {
    db.closeSync();
  }
}

async function rows<T>(c: DuckDBConnection, sql: string): Promise<T[]> {
  return (await c.runAndReadAll(sql)).getRowObjectsJS() as T[];
}

async function tableCounts(c: DuckDBConnection): Promise<Map<string, number>> {
  const tables = await rows<{ schema_name: string; table_name: string }>(
    c,
    `SELECT schema_name, table_name FROM duckdb_tables()
      WHERE database_name = current_database() AND NOT temporary AND NOT internal
      ORDER BY schema_name, table_name`,
  );
  const counts = new Map<string, number>();
  for (const t of tables) {
    const [r] = await rows<{ n: bigint }>(
      c,
      `SELECT count(*) AS n FROM ${ident(t.schema_name)}.${ident(t.table_name)}`,
    );
    counts.set(`${t.schema_name}.${t.table_name}`, Number(r.n));
  }
  return counts;
}

/** `COPY atomic.events FROM '/dir/atomic_events.parquet' (FORMAT 'parquet');` → table → file name */
function parseLoadSql(text: string): Array<{ table: string; file: string }> {
  const out: Array<{ table: string; file: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^COPY (.+?) FROM '((?:[^']|'')+)'/.exec(line.trim());
    if (m === null) continue;
    out.push({ table: m[1].replaceAll('"', ''), file: basename(m[2].replaceAll("''", "'")) });
  }
  return out;
}

export interface DuckDbBackupOptions {
  /** the warehouse file */
  path: string;
  /** the backup directory to create (must not exist) */
  out: string;
}

export async function backupDuckDb(opts: DuckDbBackupOptions): Promise<BackupManifest> {
  const path = resolve(opts.path);
  const out = resolve(opts.out);
  if (!(await exists(path))) throw new BackupError(`${path}: no such DuckDB file`);
  if (await exists(out)) throw new BackupError(`${out} already exists`);
  await mkdir(dirname(out), { recursive: true });
  const partial = `${out}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  try {
    const { counts, version } = await withDatabase(path, async (c) => {
      await c.run('CHECKPOINT');
      const counts = await tableCounts(c);
      await c.run(`EXPORT DATABASE ${sqlString(partial)} (FORMAT parquet)`);
      const [v] = await rows<{ v: string }>(c, 'SELECT version() AS v');
      return { counts, version: v.v };
    });
    const loads = parseLoadSql(await readFile(join(partial, 'load.sql'), 'utf8'));
    const tables: BackupTable[] = [];
    for (const [name, n] of counts) {
      const file = loads.find((l) => l.table === name)?.file;
      if (file === undefined) throw new BackupError(`EXPORT DATABASE wrote no file for ${name}`);
      tables.push({ name, rows: n, file });
    }
    // load.sql names absolute paths of this export; the restore reads `tables[].file` instead.
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      warehouse: 'duckdb',
      createdAt: new Date().toISOString(),
      source: path,
      engineVersion: version,
      schema: '*',
      tables,
      files: await describeFiles(partial),
    };
    for (const f of manifest.files) await fsyncPath(join(partial, f.path));
    await writeManifest(partial, manifest);
    await fsyncPath(partial);
    await rename(partial, out);
    await fsyncPath(dirname(out));
    return manifest;
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw e;
  }
}

export interface DuckDbRestoreOptions {
  /** the backup directory */
  from: string;
  /** the warehouse file to (re)create */
  path: string;
  /** replace an existing warehouse file */
  force?: boolean;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** table → restored row count */
  counts: Map<string, number>;
}

export async function restoreDuckDb(opts: DuckDbRestoreOptions): Promise<RestoreResult> {
  const from = resolve(opts.from);
  const path = resolve(opts.path);
  const manifest = await readManifest(from);
  if (manifest.warehouse !== 'duckdb') {
    throw new BackupError(`${from} is a ${manifest.warehouse} backup, not a DuckDB one`);
  }
  await verifyFiles(from, manifest);
  if ((await exists(path)) && opts.force !== true) {
    throw new BackupError(`${path} exists: pass --force to replace it`);
  }
  await mkdir(dirname(path), { recursive: true });
  const building = `${path}.restoring-${process.pid}`;
  await rm(building, { force: true });
  await rm(`${building}.wal`, { force: true });
  try {
    const counts = await withDatabase(building, async (c) => {
      await c.run(await readFile(join(from, 'schema.sql'), 'utf8'));
      for (const t of manifest.tables) {
        if (t.file === undefined) throw new BackupError(`manifest: no file for ${t.name}`);
        const [schema, table] = t.name.split('.');
        await c.run(
          `COPY ${ident(schema)}.${ident(table)} FROM ${sqlString(join(from, t.file))} (FORMAT parquet)`,
        );
      }
      await c.run('CHECKPOINT');
      return tableCounts(c);
    });
    const diffs = compareCounts(manifest.tables, counts);
    if (diffs.length > 0) throw new BackupError(`restore incomplete: ${diffs.join('; ')}`);
    await rm(`${path}.wal`, { force: true });
    await rename(building, path);
    await fsyncPath(dirname(path));
    return { manifest, counts };
  } finally {
    await rm(building, { force: true });
    await rm(`${building}.wal`, { force: true });
  }
}

/** Newest-first backup directories under `root` (names sort by their timestamp). */
export async function listBackups(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names
    .filter((n) => !n.includes('.partial-'))
    .sort()
    .reverse()
    .map((n) => join(root, n));
}

/** A timestamped backup directory name, e.g. `furrow-duckdb-20261126T031500Z`. */
export function backupName(kind: string, now = new Date()): string {
  return `furrow-${kind}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
}

/** Deletes all but the newest `keep` backups of `root`; returns what was removed. */
export async function pruneBackups(root: string, keep: number): Promise<string[]> {
  const all = await listBackups(root);
  const old = all.slice(keep);
  for (const d of old) await rm(d, { recursive: true, force: true });
  return old;
}
