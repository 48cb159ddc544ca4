/**
 * Real database servers for integration tests. A test asks for one; when it is not reachable the test
 * is skipped with the reason printed on a developer machine, but fails under CI (CI=true), where a
 * silently skipped suite would hide the loss of coverage (same rule as `requireShared`).
 *
 * PostgreSQL settings come from the libpq variables `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
 * `PGDATABASE` (defaults 127.0.0.1, 5432, postgres, no password, test); MariaDB/MySQL settings from
 * `MYSQL_HOST`, `MYSQL_PORT`, `MYSQL_USER`, `MYSQL_PASSWORD`, `MYSQL_DATABASE` (defaults 127.0.0.1,
 * 3306, root, no password, test).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export interface DbServer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

function env(name: string, fallback: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

export function postgresSettings(): DbServer {
  return {
    host: env('PGHOST', '127.0.0.1'),
    port: Number(env('PGPORT', '5432')),
    user: env('PGUSER', 'postgres'),
    password: env('PGPASSWORD', ''),
    database: env('PGDATABASE', 'test'),
  };
}

export function mariaDbSettings(): DbServer {
  return {
    host: env('MYSQL_HOST', '127.0.0.1'),
    port: Number(env('MYSQL_PORT', '3306')),
    user: env('MYSQL_USER', 'root'),
    password: env('MYSQL_PASSWORD', ''),
    database: env('MYSQL_DATABASE', 'test'),
  };
}

function unavailable(t: TestContext, what: string, s: DbServer, e: unknown): undefined {
  const reason = `${what} unavailable at ${s.user}@${s.host}:${s.port}/${s.database} (${(e as Error).message ?? e})`;
  if (process.env.CI === 'true') assert.fail(`${reason}; CI must run this test`);
  process.stderr.write(`skipping "${t.name}": ${reason}\n`);
  t.skip(reason);
  return undefined;
}

/** Connects once (`SELECT 1`) to prove the server, the credentials and the database are there. */
export async function requirePostgres(t: TestContext): Promise<DbServer | undefined> {
  const s = postgresSettings();
  const pg = (await import('pg')).default;
  const client = new pg.Client({ ...s, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return s;
  } catch (e) {
    return unavailable(t, 'PostgreSQL', s, e);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function requireMariaDb(t: TestContext): Promise<DbServer | undefined> {
  const s = mariaDbSettings();
  const mysql = await import('mysql2/promise');
  let conn: Awaited<ReturnType<typeof mysql.createConnection>> | undefined;
  try {
    conn = await mysql.createConnection({ ...s, connectTimeout: 3000 });
    await conn.query('SELECT 1');
    return s;
  } catch (e) {
    return unavailable(t, 'MariaDB/MySQL', s, e);
  } finally {
    await conn?.end().catch(() => {});
  }
}
