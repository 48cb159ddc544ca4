import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { defaultResolverConfig, parseResolverConfig, ResolverConfigError } from './resolver-config.js';

const central = {
  name: 'Iglu Central',
  priority: 0,
  vendorPrefixes: ['com.snowplowanalytics'],
  connection: { http: { uri: 'http://iglucentral.com' } },
};
const sdj = (version: string, data: unknown) => ({
  schema: `iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/${version}`,
  data,
});

test('accepts resolver-config 1-0-0 … 1-0-3 and the bare data object', () => {
  const c0 = parseResolverConfig(sdj('1-0-0', { cacheSize: 500, repositories: [central] }));
  assert.deepEqual(c0, {
    cacheSize: 500,
    cacheTtl: null,
    repositories: [{ ...central, connection: { http: { uri: 'http://iglucentral.com', apikey: null } } }],
  });
  const withKey = {
    name: 'Private',
    priority: 1,
    vendorPrefixes: ['com.acme'],
    connection: {
      http: { uri: 'https://iglu.acme.com/api', apikey: '2be1a1a8-4d6a-4d0b-a3a5-4a6f2f2a9c7e' },
    },
  };
  const c1 = parseResolverConfig(sdj('1-0-1', { cacheSize: 10, repositories: [central, withKey] }));
  assert.deepEqual(c1.repositories[1].connection, withKey.connection);
  assert.equal(
    parseResolverConfig(sdj('1-0-2', { cacheSize: 1, cacheTtl: 600, repositories: [] })).cacheTtl,
    600,
  );
  assert.equal(
    parseResolverConfig(sdj('1-0-3', { cacheSize: 0, cacheTtl: 0, repositories: [] })).cacheTtl,
    0,
  );
  assert.equal(
    parseResolverConfig(sdj('1-0-3', { cacheSize: 0, cacheTtl: null, repositories: [] })).cacheTtl,
    null,
  );
  // Micro's default: 1-0-1 carrying cacheTtl (not in that schema version) must still load.
  assert.equal(
    parseResolverConfig(sdj('1-0-1', { cacheSize: 500, cacheTtl: 600, repositories: [central] })).cacheTtl,
    600,
  );
  assert.equal(parseResolverConfig({ cacheSize: 5, repositories: [central] }).cacheSize, 5);
});

test('embedded paths are resolved against baseDir', () => {
  const repo = { name: 'local', priority: 0, vendorPrefixes: [], connection: { embedded: { path: 'iglu' } } };
  const c = parseResolverConfig({ cacheSize: 5, repositories: [repo] }, { baseDir: '/etc/furrow' });
  assert.deepEqual(c.repositories[0].connection, { embedded: { path: '/etc/furrow/iglu' } });
});

test('errors name the offending key', () => {
  const bad = (json: unknown, message: string) => {
    assert.throws(
      () => parseResolverConfig(json),
      (e: unknown) => e instanceof ResolverConfigError && e.message === message,
      message,
    );
  };
  const repo = (connection: unknown) => ({ ...central, connection });
  bad(
    sdj('1-0-0', {
      cacheSize: 5,
      repositories: [central, repo({ http: { uri: 'http://a' }, embedded: { path: '/x' } })],
    }),
    'data.repositories[1].connection: expected exactly one of http, embedded',
  );
  bad(
    { cacheSize: 5, repositories: [central, repo({})] },
    'repositories[1].connection: expected exactly one of http, embedded',
  );
  bad({ repositories: [] }, 'cacheSize: is required');
  bad({ cacheSize: 1.5, repositories: [] }, 'cacheSize: expected a non-negative integer, got number 1.5');
  bad({ cacheSize: 5 }, 'repositories: is required');
  bad(
    { cacheSize: 5, cacheTtl: '10', repositories: [] },
    'cacheTtl: expected a non-negative integer (seconds) or null, got "10"',
  );
  bad(
    { cacheSize: 5, repositories: [central, central] },
    'repositories[1].name: duplicate repository name "Iglu Central"',
  );
  bad(
    { cacheSize: 5, repositories: [{ ...central, priority: 'high' }] },
    'repositories[0].priority: expected a number, got "high"',
  );
  bad(
    { cacheSize: 5, repositories: [{ ...central, vendorPrefixes: [1] }] },
    'repositories[0].vendorPrefixes[0]: expected a string, got number 1',
  );
  bad(
    { cacheSize: 5, repositories: [repo({ http: { uri: 'not a uri' } })] },
    'repositories[0].connection.http.uri: not a valid URI: "not a uri"',
  );
  bad(
    { cacheSize: 5, repositories: [repo({ http: { uri: 'ftp://x' } })] },
    'repositories[0].connection.http.uri: expected an http or https URI, got "ftp://x"',
  );
  bad(
    { cacheSize: 5, repositories: [repo({ embedded: {} })] },
    'repositories[0].connection.embedded.path: expected a non-empty string, got undefined',
  );
  bad(
    { schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/2-0-0', data: {} },
    'schema: expected iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-*, got "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/2-0-0"',
  );
  bad([], 'resolver config must be a JSON object, got an array');
});

test('defaultResolverConfig: Iglu Central, plus a local registry when asked', () => {
  const d = defaultResolverConfig();
  assert.equal(d.repositories.length, 1);
  assert.deepEqual(d.repositories[0].connection, { http: { uri: 'http://iglucentral.com', apikey: null } });
  const withLocal = defaultResolverConfig({ schemasDir: 'data/iglu' });
  assert.deepEqual(withLocal.repositories[1].connection, { embedded: { path: resolve('data/iglu') } });
  // The result is itself a valid config.
  assert.deepEqual(parseResolverConfig(withLocal), withLocal);
});
