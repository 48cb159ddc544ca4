import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

function file(json: unknown): string {
  const f = join(mkdtempSync(join(tmpdir(), 'furrow-cfg-')), 'furrow.json');
  writeFileSync(f, typeof json === 'string' ? json : JSON.stringify(json));
  return f;
}

test('defaults need no configuration at all', () => {
  const cfg = loadConfig({ env: {} });
  assert.equal(cfg.dataDir, './furrow-data');
  assert.equal(cfg.collector.port, 8080);
  assert.equal(cfg.collector.cookie.name, 'sp');
  assert.equal(cfg.collector.cookie.sameSite, 'None');
  assert.equal(cfg.streams.engine, 'embedded');
  assert.equal(cfg.warehouse.loader, 'duckdb');
  assert.equal(cfg.spool.durability, 'fsync');
});

test('file, then environment, then flags; command defaults sit below the file', () => {
  const f = file({
    dataDir: '/from/file',
    collector: { port: 1000, cookie: { name: 'c' } },
    log: { level: 'warn' },
  });
  const cfg = loadConfig({
    file: f,
    env: { FURROW_PORT: '2000', FURROW_DATA_DIR: '/from/env' },
    overrides: [['collector.port', 3000]],
    defaults: [
      ['collector.port', 9090],
      ['collector.cookie.httpOnly', false],
    ],
  });
  assert.equal(cfg.collector.port, 3000, 'flag wins');
  assert.equal(cfg.dataDir, '/from/env', 'env beats file');
  assert.equal(cfg.collector.cookie.name, 'c', 'file beats defaults');
  assert.equal(cfg.collector.cookie.httpOnly, false, 'command default applies where nothing else says');
  assert.equal(cfg.log.level, 'warn');
  const onlyFile = loadConfig({ file: f, env: {}, defaults: [['collector.port', 9090]] });
  assert.equal(onlyFile.collector.port, 1000, "the file beats a command's own default");
});

test('errors name the key', () => {
  assert.throws(
    () => loadConfig({ env: {}, overrides: [['collector.cookie.sameSite', 'sideways']] }),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /collector\.cookie\.sameSite/);
      return true;
    },
  );
  assert.throws(() => loadConfig({ file: file({ colector: {} }), env: {} }), /colector/);
  assert.throws(
    () => loadConfig({ env: { FURROW_PORT: 'eighty' } }),
    /FURROW_PORT \(collector\.port\): expected a number/,
  );
  assert.throws(() => loadConfig({ file: file('{not json'), env: {} }), /not valid JSON/);
  assert.throws(
    () => loadConfig({ file: '/nonexistent/furrow.json', env: {} }),
    /config file \/nonexistent\/furrow.json/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: [['spool.durability', 'maybe']] }),
    /spool\.durability/,
  );
});
