/**
 * The manifest of a Furrow warehouse backup: what was copied (tables with their row counts at the moment
 * of the copy) and every file of the backup with its size and SHA-256, so a restore can refuse a damaged
 * or incomplete backup before touching the warehouse and prove afterwards that nothing is missing.
 *
 * A backup is a directory: `manifest.json` plus the warehouse's files (DuckDB: `schema.sql` + one Parquet
 * file per table; PostgreSQL: `warehouse.dump`, a `pg_dump -Fc` archive).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'furrow-backup/1';

export interface BackupTable {
  /** `schema.table` */
  name: string;
  rows: number;
  /** the file holding the table's rows (DuckDB backups) */
  file?: string;
}

export interface BackupFile {
  /** relative to the backup directory */
  path: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  warehouse: 'duckdb' | 'postgres';
  createdAt: string;
  /** where the data came from (never a password) */
  source: string;
  /** DuckDB `version()` or PostgreSQL `server_version` */
  engineVersion: string;
  /** the warehouse schema (`atomic`), or every schema for DuckDB */
  schema: string;
  tables: BackupTable[];
  files: BackupFile[];
}

export class BackupError extends Error {
  override name = 'BackupError';
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Lists, sizes and hashes every file of `dir` (recursively), except the manifest. */
export async function describeFiles(dir: string): Promise<BackupFile[]> {
  const names = (await readdir(dir, { recursive: true })) as string[];
  const files: BackupFile[] = [];
  for (const name of names.sort()) {
    if (name === MANIFEST_FILE) continue;
    const p = join(dir, name);
    const s = await stat(p);
    if (!s.isFile()) continue;
    files.push({ path: name, bytes: s.size, sha256: await sha256File(p) });
  }
  return files;
}

/** fsyncs a file or directory so a backup that reports success is on disk */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeManifest(dir: string, m: BackupManifest): Promise<void> {
  const p = join(dir, MANIFEST_FILE);
  await writeFile(p, `${JSON.stringify(m, null, 2)}\n`);
  await fsyncPath(p);
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    throw new BackupError(`${dir}: not a Furrow backup (${(e as Error).message})`);
  }
  const m = JSON.parse(text) as BackupManifest;
  if (m.format !== MANIFEST_FORMAT) {
    throw new BackupError(`${dir}: unknown backup format ${JSON.stringify(m.format)}`);
  }
  return m;
}

/** Throws when a file listed in the manifest is missing, has another size or another checksum. */
export async function verifyFiles(dir: string, m: BackupManifest): Promise<void> {
  for (const f of m.files) {
    const p = join(dir, f.path);
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch {
      throw new BackupError(`${f.path}: missing from the backup`);
    }
    if (size !== f.bytes) throw new BackupError(`${f.path}: ${size} bytes, the manifest says ${f.bytes}`);
    const sum = await sha256File(p);
    if (sum !== f.sha256) throw new BackupError(`${f.path}: checksum mismatch (the file is damaged)`);
  }
}

/** Compares restored row counts with the manifest's; returns the differences (empty: all there). */
export function compareCounts(
  expected: readonly BackupTable[],
  actual: ReadonlyMap<string, number>,
): string[] {
  const diffs: string[] = [];
  for (const t of expected) {
    const got = actual.get(t.name);
    if (got !== t.rows) diffs.push(`${t.name}: ${got ?? 'missing'} rows, expected ${t.rows}`);
  }
  return diffs;
}
