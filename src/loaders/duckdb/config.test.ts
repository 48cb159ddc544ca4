import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDbConfigError, parseDuckDbLoaderConfig } from './config.js';

describe('duckdb loader config', () => {
  it('fills defaults, the path under dataDir', () => {
    const c = parseDuckDbLoaderConfig(undefined, { dataDir: '/data' });
    assert.deepEqual(c, {
      path: '/data/warehouse.duckdb',
      schema: 'atomic',
      maxRows: 5000,
      maxBytes: 16 * 1024 * 1024,
      maxDelayMs: 1000,
      stagingDir: '/data',
      threads: 1,
      memoryLimit: undefined,
      checkpointThreshold: '256MB',
      dedupeWindowSeconds: 600,
    });
  });

  it('names the key at fault', () => {
    const bad: Array<[unknown, string]> = [
      [{ maxRows: 0 }, 'warehouse.duckdb.maxRows'],
      [{ schema: 'a;drop' }, 'warehouse.duckdb.schema'],
      [{ maxDelayMs: 'soon' }, 'warehouse.duckdb.maxDelayMs'],
      [{ memoryLimit: 'lots' }, 'warehouse.duckdb.memoryLimit'],
      [{ batchSize: 3 }, 'warehouse.duckdb.batchSize'],
    ];
    for (const [input, key] of bad) {
      assert.throws(
        () => parseDuckDbLoaderConfig(input),
        (e: unknown) => e instanceof DuckDbConfigError && e.key === key && e.message.startsWith(`${key}: `),
      );
    }
  });
});
