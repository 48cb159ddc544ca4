import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  compareSchemaVer,
  criterionMatches,
  formatSchemaCriterion,
  formatSchemaKey,
  parseSchemaCriterion,
  parseSchemaKey,
  parseSchemaPath,
  parseSchemaSelf,
  parseSchemaVer,
  parseSelfDescribing,
  type SchemaKey,
  schemaCriterion,
} from './schema-key.js';

const key = (uri: string) => {
  const r = parseSchemaKey(uri);
  assert.ok(r.ok, uri);
  return r.value;
};

test('parses and formats a SchemaKey', () => {
  const k = key('iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1');
  assert.deepEqual(k, {
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'link_click',
    format: 'jsonschema',
    version: { model: 1, revision: 0, addition: 1 },
  });
  assert.equal(formatSchemaKey(k), 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1');
  assert.deepEqual(parseSchemaPath('com.acme/x-y_z/thrift/10-20-30'), {
    ok: true,
    value: {
      vendor: 'com.acme',
      name: 'x-y_z',
      format: 'thrift',
      version: { model: 10, revision: 20, addition: 30 },
    },
  });
});

test('bad URIs report INVALID_IGLUURI, bad versions INVALID_SCHEMAVER', () => {
  for (const uri of [
    '',
    'com.acme/x/jsonschema/1-0-0',
    'iglu:com.acme/x/jsonschema',
    'iglu:com.acme/x/jsonschema/1-0',
    'iglu:com.acme/x/json.schema/1-0-0',
    'iglu:com.acme/x.y/jsonschema/1-0-0',
    'iglu:com acme/x/jsonschema/1-0-0',
    'iglu:com.acme/x/jsonschema/1-0-0 ',
    'iglu:com.acme/x/jsonschema/a-b-c',
  ]) {
    assert.deepEqual(parseSchemaKey(uri), { ok: false, error: 'INVALID_IGLUURI' }, uri);
  }
  for (const uri of [
    'iglu:com.acme/x/jsonschema/0-0-0',
    'iglu:com.acme/x/jsonschema/01-0-0',
    'iglu:com.acme/x/jsonschema/1-00-0',
    'iglu:com.acme/x/jsonschema/1--0',
    'iglu:com.acme/x/jsonschema/1-0-99999999999',
  ]) {
    assert.deepEqual(parseSchemaKey(uri), { ok: false, error: 'INVALID_SCHEMAVER' }, uri);
  }
});

test('SchemaVer order is numeric per component', () => {
  const v = (s: string) => {
    const r = parseSchemaVer(s);
    assert.ok(r.ok);
    return r.value;
  };
  assert.ok(compareSchemaVer(v('1-0-10'), v('1-0-9')) > 0);
  assert.ok(compareSchemaVer(v('1-1-0'), v('1-0-9')) > 0);
  assert.ok(compareSchemaVer(v('2-0-0'), v('1-10-10')) > 0);
  assert.equal(compareSchemaVer(v('1-2-3'), v('1-2-3')), 0);
});

test('format(parse(uri)) round-trips every valid key', () => {
  const seg = (chars: string) => fc.stringMatching(new RegExp(`^[${chars}]{1,12}$`));
  const num = fc.integer({ min: 0, max: 1000 });
  fc.assert(
    fc.property(
      seg('a-zA-Z0-9\\-_.'),
      seg('a-zA-Z0-9\\-_'),
      seg('a-zA-Z0-9\\-_'),
      fc.integer({ min: 1, max: 1000 }),
      num,
      num,
      (vendor, name, format, m, r, a) => {
        const uri = `iglu:${vendor}/${name}/${format}/${m}-${r}-${a}`;
        assert.equal(formatSchemaKey(key(uri)), uri);
      },
    ),
  );
});

test('criteria parse and match', () => {
  const c = parseSchemaCriterion('iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*');
  assert.ok(c.ok);
  assert.equal(
    formatSchemaCriterion(c.value),
    'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*',
  );
  assert.ok(
    criterionMatches(c.value, key('iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4')),
  );
  assert.ok(
    !criterionMatches(c.value, key('iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-1-0')),
  );
  assert.ok(!criterionMatches(c.value, key('iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0')));
  const any = schemaCriterion('iglu:com.acme/x/jsonschema/1-*-*');
  assert.ok(any.matches(key('iglu:com.acme/x/jsonschema/1-5-2')));
  assert.ok(!any.matches(key('iglu:com.acme/x/jsonschema/2-0-0')));
  assert.ok(
    schemaCriterion('iglu:com.acme/x/jsonschema/*-*-*').matches(key('iglu:com.acme/x/jsonschema/7-0-0')),
  );
  assert.deepEqual(parseSchemaCriterion('iglu:com.acme/x/jsonschema/1-0'), {
    ok: false,
    error: 'INVALID_IGLUURI',
  });
  assert.throws(() => schemaCriterion('nope'), /invalid schema criterion/);
});

test('parseSelfDescribing: exactly schema + data', () => {
  const uri = 'iglu:com.acme/x/jsonschema/1-0-0';
  assert.deepEqual(parseSelfDescribing({ schema: uri, data: { a: 1 } }), {
    ok: true,
    schema: key(uri),
    data: { a: 1 },
  });
  assert.deepEqual(parseSelfDescribing({ schema: uri, data: null }), {
    ok: true,
    schema: key(uri),
    data: null,
  });
  for (const bad of [
    null,
    'str',
    [],
    [{ schema: uri, data: 1 }],
    { not: 'self-desc' },
    { schema: uri },
    { data: 1 },
    { schema: 1, data: 1 },
    { schema: uri, data: 1, extra: true },
  ]) {
    assert.deepEqual(
      parseSelfDescribing(bad),
      { ok: false, error: 'INVALID_DATA_PAYLOAD' },
      JSON.stringify(bad),
    );
  }
  assert.deepEqual(parseSelfDescribing({ schema: 'iglu:x', data: 1 }), {
    ok: false,
    error: 'INVALID_IGLUURI',
  });
  assert.deepEqual(parseSelfDescribing({ schema: 'iglu:a/b/c/0-0-0', data: 1 }), {
    ok: false,
    error: 'INVALID_SCHEMAVER',
  });
});

test('parseSchemaSelf reads a schema document self block', () => {
  const self = { vendor: 'com.acme', name: 'x', format: 'jsonschema', version: '1-0-2' };
  assert.deepEqual(parseSchemaSelf({ self, type: 'object' }), {
    ok: true,
    value: key('iglu:com.acme/x/jsonschema/1-0-2'),
  });
  assert.deepEqual(parseSchemaSelf({ type: 'object' }), { ok: false, error: 'INVALID_SCHEMA' });
  assert.deepEqual(parseSchemaSelf({ self: { ...self, version: 3 } }), {
    ok: false,
    error: 'INVALID_SCHEMA',
  });
});

test('parsed keys are shared between calls and cannot be changed through one caller', () => {
  const uri = 'iglu:com.acme/shared_key/jsonschema/1-0-3';
  const a = parseSchemaKey(uri);
  const b = parseSchemaKey(uri);
  assert.ok(a.ok && b.ok);
  assert.deepEqual(b.value, {
    vendor: 'com.acme',
    name: 'shared_key',
    format: 'jsonschema',
    version: { model: 1, revision: 0, addition: 3 },
  });
  assert.throws(() => {
    (a.value.version as { addition: number }).addition = 4;
  }, TypeError);
  assert.equal(
    parseSchemaKey(uri).ok && (parseSchemaKey(uri) as { value: SchemaKey }).value.version.addition,
    3,
  );
  // many distinct URIs do not break later answers
  for (let i = 0; i < 3000; i++) assert.equal(parseSchemaKey(`iglu:com.acme/k/jsonschema/1-0-${i}`).ok, true);
  assert.deepEqual(parseSchemaKey('iglu:com.acme/x/jsonschema/1-0'), { ok: false, error: 'INVALID_IGLUURI' });
  assert.deepEqual(parseSchemaKey('iglu:com.acme/x/jsonschema/01-0-0'), {
    ok: false,
    error: 'INVALID_SCHEMAVER',
  });
});
