import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backupDuckDb, backupName, listBackups, pruneBackups, restoreDuckDb } from '../../backup/duckdb.js';
import { BackupError, type BackupManifest, MANIFEST_FILE } from '../../backup/manifest.js';
import { inClusterApi, withStatefulSetPaused } from '../../backup/pause.js';
import { backupPostgres, type PgTarget, restorePostgres } from '../../backup/postgres.js';
import { parseDuckDbLoaderConfig } from '../../loaders/duckdb/config.js';
import { type FurrowConfig, loadConfig } from '../../runtime/config.js';
import { type Command, UsageError } from '../command.js';

const COMMON_FLAGS = {
  config: { type: 'string', short: 'c' },
  warehouse: { type: 'string' },
  'data-dir': { type: 'string', short: 'd' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const COMMON_HELP = `  -c, --config FILE         JSON config file (also FURROW_CONFIG): warehouse.loader, warehouse.<kind>
      --warehouse KIND      duckdb or postgres (default: from the config, else duckdb)
  -d, --data-dir DIR        data directory (the DuckDB file is <data-dir>/warehouse.duckdb by default)
  -h, --help                show this help
PostgreSQL connection: warehouse.postgres.{url,host,port,user,password,database,schema} from the config,
then the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (keep the password there or in
the config's Secret-mounted file, never on the command line). pg_dump/pg_restore must be on PATH.`;

const BACKUP_HELP = `Usage: furrow backup (--out DIR | --out-root DIR [--keep N]) [options]

Takes a consistent, verifiable backup of the warehouse into a new directory holding manifest.json
(every table's row count, every file's size and SHA-256) and the data:
  duckdb    EXPORT DATABASE (schema.sql + one Parquet file per table), after a CHECKPOINT, while holding
            the file's exclusive lock: the warehouse's writer (furrow up / furrow load) must be stopped,
            which --pause-statefulset does on Kubernetes
  postgres  pg_dump -Fc of the warehouse schema; the counts and the dump share one snapshot
            (pg_export_snapshot), so loaders may keep writing

Options:
      --out DIR                 the backup directory to create (must not exist)
      --out-root DIR            create <DIR>/furrow-<kind>-<UTC timestamp> instead
      --keep N                  with --out-root: then delete all but the newest N backups
      --pause-statefulset NAME  (in a Kubernetes pod) scale StatefulSet NAME to 0 for the backup and back
                                after it, even when the backup fails
${COMMON_HELP}
`;

const RESTORE_HELP = `Usage: furrow restore --from DIR [options]

Restores a backup made by "furrow backup". The files are checked against the manifest first (a damaged
or incomplete backup is refused before the warehouse is touched), and the restored tables' row counts
are compared with the manifest afterwards.
  duckdb    the database is rebuilt in a new file, verified, then renamed over the warehouse file
            (which needs --force when it exists); stop the warehouse's writer first
  postgres  pg_restore --clean --if-exists --single-transaction into the configured database: the
            warehouse schema is replaced as a whole, or not at all

Options:
      --from DIR                a backup directory, or a folder of them (the newest is used)
      --force                   replace an existing DuckDB file
${COMMON_HELP}
`;

function warehouseKind(cfg: FurrowConfig, flag: string | undefined): 'duckdb' | 'postgres' {
  const kind = flag ?? cfg.warehouse.loader;
  if (kind !== 'duckdb' && kind !== 'postgres') {
    throw new UsageError(`--warehouse must be duckdb or postgres (got ${kind})`);
  }
  return kind;
}

function duckDbPath(cfg: FurrowConfig): string {
  return parseDuckDbLoaderConfig(cfg.warehouse.duckdb ?? {}, {
    dataDir: resolve(cfg.dataDir),
    keyPrefix: 'warehouse.duckdb',
  }).path;
}

/** warehouse.postgres keys read directly (only the connection and the schema matter here) */
function pgTarget(cfg: FurrowConfig): PgTarget {
  const o = (cfg.warehouse.postgres ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
  const port = typeof o.port === 'number' ? o.port : undefined;
  return {
    connectionString: str('url'),
    host: str('host'),
    port,
    user: str('user'),
    password: str('password'),
    database: str('database'),
    schema: str('schema') ?? 'atomic',
  };
}

function summary(action: string, dir: string, m: BackupManifest): string {
  return `${JSON.stringify({
    action,
    dir,
    warehouse: m.warehouse,
    source: m.source,
    tables: Object.fromEntries(m.tables.map((t) => [t.name, t.rows])),
    bytes: m.files.reduce((n, f) => n + f.bytes, 0),
  })}\n`;
}

export const backupCommand: Command = {
  name: 'backup',
  summary: 'back up the warehouse (DuckDB export or pg_dump) with a verifiable manifest',
  help: BACKUP_HELP,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...COMMON_FLAGS,
        out: { type: 'string' },
        'out-root': { type: 'string' },
        keep: { type: 'string' },
        'pause-statefulset': { type: 'string' },
      },
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(BACKUP_HELP);
      return 0;
    }
    if ((values.out === undefined) === (values['out-root'] === undefined)) {
      throw new UsageError('give exactly one of --out and --out-root');
    }
    const keep = values.keep === undefined ? undefined : Number(values.keep);
    if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) {
      throw new UsageError('--keep must be a positive integer');
    }
    if (keep !== undefined && values['out-root'] === undefined)
      throw new UsageError('--keep needs --out-root');
    const cfg = loadConfig({ file: values.config, overrides: [['dataDir', values['data-dir']]] });
    const kind = warehouseKind(cfg, values.warehouse);
    const root = values['out-root'] === undefined ? undefined : resolve(values['out-root']);
    const out = root === undefined ? resolve(values.out as string) : join(root, backupName(kind));
    const take = () =>
      kind === 'duckdb'
        ? backupDuckDb({ path: duckDbPath(cfg), out })
        : backupPostgres({ target: pgTarget(cfg), out });
    const pause = values['pause-statefulset'];
    const manifest =
      pause === undefined
        ? await take()
        : await withStatefulSetPaused(inClusterApi(), pause, take, {
            log: (m) => process.stderr.write(`furrow backup: ${m}\n`),
          });
    process.stdout.write(summary('backup', out, manifest));
    if (root !== undefined && keep !== undefined) {
      for (const d of await pruneBackups(root, keep)) process.stderr.write(`furrow backup: pruned ${d}\n`);
    }
    return 0;
  },
};

async function resolveFrom(from: string): Promise<string> {
  const dir = resolve(from);
  if (
    await stat(join(dir, MANIFEST_FILE)).then(
      () => true,
      () => false,
    )
  )
    return dir;
  for (const d of await listBackups(dir)) {
    if (
      await stat(join(d, MANIFEST_FILE)).then(
        () => true,
        () => false,
      )
    )
      return d;
  }
  throw new BackupError(`${dir}: neither a backup nor a folder of backups`);
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a warehouse backup made by furrow backup, verifying files and row counts',
  help: RESTORE_HELP,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { ...COMMON_FLAGS, from: { type: 'string' }, force: { type: 'boolean', default: false } },
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(RESTORE_HELP);
      return 0;
    }
    if (values.from === undefined) throw new UsageError('--from is required');
    const cfg = loadConfig({ file: values.config, overrides: [['dataDir', values['data-dir']]] });
    const kind = warehouseKind(cfg, values.warehouse);
    const from = await resolveFrom(values.from);
    const { manifest } =
      kind === 'duckdb'
        ? await restoreDuckDb({ from, path: duckDbPath(cfg), force: values.force })
        : await restorePostgres({ from, target: pgTarget(cfg) });
    process.stdout.write(summary('restore', from, manifest));
    return 0;
  },
};
