import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeConnection, PostgresConfigError, parsePostgresLoaderConfig } from './config.js';

describe('postgres loader config', () => {
  it('fills defaults and takes connection settings from PG* variables', () => {
    const c = parsePostgresLoaderConfig(
      {},
      {
        env: { PGHOST: 'db', PGPORT: '6543', PGUSER: 'loader', PGPASSWORD: 's3cret', PGDATABASE: 'snowplow' },
      },
    );
    assert.deepEqual(c.connection, {
      connectionString: undefined,
      host: 'db',
      port: 6543,
      user: 'loader',
      password: 's3cret',
      database: 'snowplow',
      ssl: false,
    });
    assert.equal(c.schema, 'atomic');
    assert.equal(c.maxRows, 5000);
    assert.equal(c.maxBytes, 16 * 1024 * 1024);
    assert.equal(c.maxDelayMs, 1000);
    assert.equal(c.poolSize, 2);
    assert.equal(c.connectRetries, 3);
  });

  it('lets the config file win over the environment', () => {
    const c = parsePostgresLoaderConfig(
      { host: 'h', port: 5433, database: 'd' },
      { env: { PGHOST: 'db', PGPORT: '1' } },
    );
    assert.equal(c.connection.host, 'h');
    assert.equal(c.connection.port, 5433);
    assert.equal(c.connection.database, 'd');
  });

  it('with a URL, only explicit keys override it', () => {
    const c = parsePostgresLoaderConfig(
      { url: 'postgres://u:p@h:1/db', database: 'other' },
      { env: { PGHOST: 'db' } },
    );
    assert.equal(c.connection.connectionString, 'postgres://u:p@h:1/db');
    assert.equal(c.connection.host, undefined);
    assert.equal(c.connection.database, 'other');
    assert.equal(describeConnection(c.connection), 'postgres://u@h:1/db');
  });

  it('names the key at fault', () => {
    const cases: [unknown, string][] = [
      [{ maxRows: 0 }, 'warehouse.postgres.maxRows'],
      [{ schema: 'bad-name' }, 'warehouse.postgres.schema'],
      [{ port: 'x' }, 'warehouse.postgres.port'],
      [{ ssl: 'maybe' }, 'warehouse.postgres.ssl'],
      [{ bogus: 1 }, 'warehouse.postgres.bogus'],
      [{ url: 'mysql://x' }, 'warehouse.postgres.url'],
    ];
    for (const [input, key] of cases) {
      assert.throws(
        () => parsePostgresLoaderConfig(input, { env: {} }),
        (e: unknown) => e instanceof PostgresConfigError && e.key === key && e.message.startsWith(`${key}: `),
        key,
      );
    }
    assert.throws(
      () => parsePostgresLoaderConfig({}, { env: { PGPORT: 'abc' } }),
      (e: unknown) => e instanceof PostgresConfigError && e.key === 'PGPORT',
    );
    assert.throws(
      () => parsePostgresLoaderConfig({ maxBytes: 10 }, { env: {}, keyPrefix: 'warehouse' }),
      (e: unknown) => e instanceof PostgresConfigError && e.key === 'warehouse.maxBytes',
    );
  });

  it('never prints the password', () => {
    const c = parsePostgresLoaderConfig({ host: 'h', user: 'u', password: 'pw', database: 'd' }, { env: {} });
    assert.equal(describeConnection(c.connection), 'postgres://u@h:5432/d');
  });
});
