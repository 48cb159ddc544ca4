/**
 * Backup and restore of the PostgreSQL warehouse schema by wrapping `pg_dump -Fc` / `pg_restore`.
 *
 * Consistency: the row counts in the manifest and the dump come from the same snapshot. A transaction
 * (REPEATABLE READ, READ ONLY) exports its snapshot with `pg_export_snapshot()`, counts every table of the
 * schema, and `pg_dump --snapshot=<id>` dumps exactly that state while the transaction stays open. Loaders
 * can keep writing meanwhile.
 *
 * Restore: `pg_restore --clean --if-exists --no-owner --single-transaction` into the target database
 * (all or nothing), then the restored counts are compared with the manifest.
 */
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  BackupError,
  type BackupManifest,
  compareCounts,
  describeFiles,
  fsyncPath,
  MANIFEST_FORMAT,
  readManifest,
  verifyFiles,
  writeManifest,
} from './manifest.js';

const run = promisify(execFile);

export const DUMP_FILE = 'warehouse.dump';

/** Where the warehouse is; unset fields fall back to libpq's PG* environment variables. */
export interface PgTarget {
  /** `postgres://user:pass@host:port/db` */
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** the warehouse schema (`atomic`) */
  schema: string;
}

export interface PgTools {
  pgDump?: string;
  pgRestore?: string;
}

function clientConfig(t: PgTarget): pg.ClientConfig {
  return {
    connectionString: t.connectionString,
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.database,
    application_name: 'furrow-backup',
  };
}

/** The environment and `--dbname` for pg_dump/pg_restore (the password travels in PGPASSWORD, never argv). */
function toolConnection(t: PgTarget): { env: NodeJS.ProcessEnv; args: string[] } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const set = (k: string, v: string | number | undefined) => {
    if (v !== undefined) env[k] = String(v);
  };
  set('PGHOST', t.host);
  set('PGPORT', t.port);
  set('PGUSER', t.user);
  set('PGPASSWORD', t.password);
  set('PGDATABASE', t.database);
  set('PGAPPNAME', 'furrow-backup');
  let args: string[] = [];
  if (t.connectionString !== undefined) {
    const u = new URL(t.connectionString);
    if (u.password !== '' && t.password === undefined) env.PGPASSWORD = decodeURIComponent(u.password);
    u.password = '';
    if (t.host !== undefined) u.hostname = t.host;
    if (t.port !== undefined) u.port = String(t.port);
    if (t.user !== undefined) u.username = t.user;
    if (t.database !== undefined) u.pathname = `/${t.database}`;
    args = [`--dbname=${u.toString()}`];
  } else {
    // pg_restore without --dbname writes SQL to stdout instead of restoring: always name the database
    const db = t.database ?? env.PGDATABASE ?? t.user ?? env.PGUSER ?? userInfo().username;
    args = [`--dbname=${db}`];
  }
  return { env, args };
}

export function describeTarget(t: PgTarget): string {
  if (t.connectionString !== undefined) {
    const u = new URL(t.connectionString);
    u.password = '';
    return `${u.toString()} schema ${t.schema}`;
  }
  const e = process.env;
  return `postgres://${t.user ?? e.PGUSER ?? ''}@${t.host ?? e.PGHOST ?? 'localhost'}:${t.port ?? e.PGPORT ?? 5432}/${t.database ?? e.PGDATABASE ?? ''} schema ${t.schema}`;
}

/** Is `tool` runnable? Resolves its `--version` line, or undefined. */
export async function toolVersion(tool: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(tool, ['--version']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function countTables(c: pg.Client, schema: string): Promise<Map<string, number>> {
  const tables = await c.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [schema],
  );
  const counts = new Map<string, number>();
  for (const { table_name } of tables.rows) {
    const q = `SELECT count(*)::bigint AS n FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table_name)}`;
    const r = await c.query<{ n: string }>(q);
    counts.set(`${schema}.${table_name}`, Number(r.rows[0].n));
  }
  return counts;
}

export async function backupPostgres(
  opts: { target: PgTarget; out: string } & PgTools,
): Promise<BackupManifest> {
  const out = resolve(opts.out);
  const pgDump = opts.pgDump ?? 'pg_dump';
  if ((await toolVersion(pgDump)) === undefined)
    throw new BackupError(`${pgDump} not found (install the PostgreSQL client)`);
  if (
    await stat(out).then(
      () => true,
      () => false,
    )
  )
    throw new BackupError(`${out} already exists`);
  await mkdir(dirname(out), { recursive: true });
  const partial = `${out}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial);
  const client = new pg.Client(clientConfig(opts.target));
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0].s;
    const version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0].v;
    const counts = await countTables(client, opts.target.schema);
    if (counts.size === 0) throw new BackupError(`schema ${opts.target.schema} has no tables`);
    const conn = toolConnection(opts.target);
    try {
      await run(
        pgDump,
        [
          ...conn.args,
          '--format=custom',
          `--snapshot=${snap}`,
          `--schema=${opts.target.schema}`,
          '--no-owner',
          `--file=${join(partial, DUMP_FILE)}`,
        ],
        { env: conn.env, maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (e) {
      throw new BackupError(
        `pg_dump failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`,
      );
    }
    await client.query('COMMIT');
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      warehouse: 'postgres',
      createdAt: new Date().toISOString(),
      source: describeTarget(opts.target),
      engineVersion: version,
      schema: opts.target.schema,
      tables: [...counts].map(([name, rows]) => ({ name, rows })),
      files: await describeFiles(partial),
    };
    await fsyncPath(join(partial, DUMP_FILE));
    await writeManifest(partial, manifest);
    await fsyncPath(partial);
    await rename(partial, out);
    await fsyncPath(dirname(out));
    return manifest;
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw e;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function restorePostgres(
  opts: { target: PgTarget; from: string } & PgTools,
): Promise<{ manifest: BackupManifest; counts: Map<string, number> }> {
  const from = resolve(opts.from);
  const pgRestore = opts.pgRestore ?? 'pg_restore';
  const manifest = await readManifest(from);
  if (manifest.warehouse !== 'postgres') {
    throw new BackupError(`${from} is a ${manifest.warehouse} backup, not a PostgreSQL one`);
  }
  if (manifest.schema !== opts.target.schema) {
    throw new BackupError(`the backup holds schema ${manifest.schema}, not ${opts.target.schema}`);
  }
  if ((await toolVersion(pgRestore)) === undefined)
    throw new BackupError(`${pgRestore} not found (install the PostgreSQL client)`);
  await verifyFiles(from, manifest);
  const conn = toolConnection(opts.target);
  try {
    await run(
      pgRestore,
      [
        ...conn.args,
        '--clean',
        '--if-exists',
        '--no-owner',
        '--no-privileges',
        '--single-transaction',
        '--exit-on-error',
        join(from, DUMP_FILE),
      ],
      { env: conn.env, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (e) {
    throw new BackupError(
      `pg_restore failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`,
    );
  }
  const client = new pg.Client(clientConfig(opts.target));
  client.on('error', () => {});
  try {
    await client.connect();
    const counts = await countTables(client, opts.target.schema);
    const diffs = compareCounts(manifest.tables, counts);
    if (diffs.length > 0) throw new BackupError(`restore incomplete: ${diffs.join('; ')}`);
    return { manifest, counts };
  } finally {
    await client.end().catch(() => {});
  }
}
