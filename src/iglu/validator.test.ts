import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataReport } from './types.js';
import { createSchemaValidator, IGLU_META_SCHEMA_URI } from './validator.js';

const validator = createSchemaValidator();

function reports(schema: Record<string, unknown>, data: unknown): DataReport[] | null {
  const c = validator.compile(schema);
  assert.ok(c.ok, c.ok ? '' : c.message);
  return c.validate(data);
}

const self = { vendor: 'com.acme', name: 'x', format: 'jsonschema', version: '1-0-0' };

test('V52: additionalProperties before required, networknt wording', () => {
  const schema = {
    $schema: IGLU_META_SCHEMA_URI,
    self,
    type: 'object',
    properties: { sku: { type: 'string' }, quantity: { type: 'number' } },
    required: ['sku', 'quantity'],
    additionalProperties: false,
  };
  assert.deepEqual(reports(schema, { skuu: 'pedals', quantity: 2 }), [
    {
      message: '$.skuu: is not defined in the schema and the schema does not allow additional properties',
      path: '$',
      keyword: 'additionalProperties',
      targets: ['skuu'],
    },
    { message: '$.sku: is missing but it is required', path: '$', keyword: 'required', targets: ['sku'] },
  ]);
  assert.equal(reports(schema, { sku: 'pedals', quantity: 2 }), null);
});

test('messages per keyword, with JSONPath paths', () => {
  const schema = {
    type: 'object',
    properties: {
      quantity: { type: 'integer', minimum: 0, maximum: 10 },
      name: { type: 'string', maxLength: 3, minLength: 2 },
      kind: { enum: ['a', 'b', 1] },
      code: { type: 'string', pattern: '^[A-Z]+$' },
      tags: { type: 'array', items: { type: 'string' }, maxItems: 3, uniqueItems: true },
      nested: { type: 'object', properties: { deep: { type: ['string', 'null'] } } },
      step: { type: 'number', multipleOf: 5 },
    },
  };
  const r = (data: unknown) => reports(schema, data);
  assert.deepEqual(r({ quantity: '2' }), [
    {
      message: '$.quantity: string found, integer expected',
      path: '$.quantity',
      keyword: 'type',
      targets: ['string', 'integer'],
    },
  ]);
  assert.deepEqual(r({ quantity: 11 })?.[0].message, '$.quantity: must have a maximum value of 10');
  assert.deepEqual(r({ quantity: -1 })?.[0], {
    message: '$.quantity: must have a minimum value of 0',
    path: '$.quantity',
    keyword: 'minimum',
    targets: ['0'],
  });
  assert.deepEqual(r({ name: 'abcd' })?.[0], {
    message: '$.name: may only be 3 characters long',
    path: '$.name',
    keyword: 'maxLength',
    targets: ['3'],
  });
  assert.equal(r({ name: 'a' })?.[0].message, '$.name: must be at least 2 characters long');
  assert.deepEqual(r({ kind: 'c' })?.[0], {
    message: '$.kind: does not have a value in the enumeration [a, b, 1]',
    path: '$.kind',
    keyword: 'enum',
    targets: ['[a, b, 1]'],
  });
  assert.deepEqual(r({ code: 'abc' })?.[0], {
    message: '$.code: does not match the regex pattern ^[A-Z]+$',
    path: '$.code',
    keyword: 'pattern',
    targets: ['^[A-Z]+$'],
  });
  assert.deepEqual(
    r({ tags: ['a', 1, 'a', 'b'] })?.map((x) => x.message),
    [
      '$.tags[1]: integer found, string expected',
      '$.tags: there must be a maximum of 3 items in the array',
      '$.tags: the items in the array must be unique',
    ],
  );
  assert.deepEqual(r({ nested: { deep: 1.5 } }), [
    {
      message: '$.nested.deep: number found, but [string, null] is required',
      path: '$.nested.deep',
      keyword: 'type',
      targets: ['number', '[string, null]'],
    },
  ]);
  assert.equal(r({ step: 7 })?.[0].message, '$.step: must be multiple of 5');
  assert.equal(
    reports({ type: 'array', minItems: 1 }, [])?.[0].message,
    '$: there must be a minimum of 1 items in the array',
  );
});

test('properties are reported in schema order, keywords alphabetically', () => {
  const schema = {
    type: 'object',
    properties: { b: { type: 'string' }, a: { type: 'string' } },
    required: ['c'],
    additionalProperties: false,
  };
  assert.deepEqual(
    reports(schema, { a: 1, b: 2, z: 0 })?.map((x) => x.message),
    [
      '$.z: is not defined in the schema and the schema does not allow additional properties',
      '$.b: integer found, string expected',
      '$.a: integer found, string expected',
      '$.c: is missing but it is required',
    ],
  );
});

test('errors under $ref and array items get paths through the data', () => {
  const schema = {
    definitions: { item: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } },
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/definitions/item' } } },
  };
  assert.deepEqual(
    reports(schema, { items: [{ id: 'x' }, {}, { id: 3 }] })?.map((x) => [x.message, x.path]),
    [
      ['$.items[1].id: is missing but it is required', '$.items[1]'],
      ['$.items[2].id: integer found, string expected', '$.items[2].id'],
    ],
  );
});

test('formats', () => {
  const schema = {
    type: 'object',
    properties: {
      ts: { type: 'string', format: 'date-time' },
      email: { type: 'string', format: 'email' },
      host: { type: 'string', format: 'hostname' },
      ip4: { type: 'string', format: 'ipv4' },
      ip6: { type: 'string', format: 'ipv6' },
      uri: { type: 'string', format: 'uri' },
      id: { type: 'string', format: 'uuid' },
      other: { type: 'string', format: 'strict-uri' },
    },
  };
  const valid = {
    ts: '2024-02-29T10:05:00.123Z',
    email: 'a.b+c@example.co.uk',
    host: 'www.example.com',
    ip4: '192.168.0.1',
    ip6: '2001:db8::1',
    uri: 'https://example.com/a?b=c#d',
    id: 'c6ef3124-b53a-4b13-a233-0088f79dcbcb',
    other: 'anything goes',
  };
  assert.equal(reports(schema, valid), null);
  const bad = reports(schema, {
    ts: '2023-02-29T10:05:00Z',
    email: 'not-an-email',
    host: '-bad-.com',
    ip4: '256.1.1.1',
    ip6: '2001:db8:::1',
    uri: 'no scheme',
    id: 'xyz',
  });
  assert.deepEqual(
    bad?.map((r) => [r.path, r.keyword]),
    ['ts', 'email', 'host', 'ip4', 'ip6', 'uri', 'id'].map((p) => [`$.${p}`, 'format']),
  );
  assert.equal(bad?.[0].message, '$.ts: 2023-02-29T10:05:00Z is an invalid date-time');
  assert.equal(
    bad?.[3].message,
    '$.ip4: does not match the ipv4 pattern ^(([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\\.){3}([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$',
  );
  assert.equal(bad?.[6].message, '$.id: xyz is an invalid uuid');
});

test('self, $supersedes and $supersededBy are accepted; the Iglu meta-schema is enforced', () => {
  const ok = validator.compile({
    $schema: IGLU_META_SCHEMA_URI,
    self,
    $supersedes: ['0-9-9'],
    $supersededBy: '1-0-1',
    type: 'object',
  });
  assert.ok(ok.ok);
  const noSelf = validator.compile({ $schema: IGLU_META_SCHEMA_URI, type: 'object' });
  assert.equal(noSelf.ok, false);
  const extraSelf = validator.compile({
    $schema: IGLU_META_SCHEMA_URI,
    self: { ...self, extra: 1 },
    type: 'object',
  });
  assert.equal(extraSelf.ok, false);
});

test('invalid schema documents are results, not throws', () => {
  for (const schema of [
    { type: 'strang' },
    { properties: { a: { $ref: '#/definitions/missing' } } },
    { type: 'string', pattern: '([a-z]' },
    { $schema: 'http://example.com/unknown-meta#', type: 'object' },
  ]) {
    const c = validator.compile(schema);
    assert.equal(c.ok, false, JSON.stringify(schema));
    assert.ok(!c.ok && c.message.length > 0);
  }
});

test('a compiled schema validates repeatedly without recompiling', () => {
  const c = validator.compile({ type: 'object', required: ['a'] });
  assert.ok(c.ok);
  for (let i = 0; i < 3; i++) {
    assert.equal(c.validate({ a: i }), null);
    assert.equal(c.validate({})?.length, 1);
  }
});

test('combinators and tuples', () => {
  assert.deepEqual(
    reports({ type: 'array', items: [{ type: 'string' }], additionalItems: false }, ['a', 1, 2])?.map((r) => [
      r.message,
      r.path,
    ]),
    [
      ['$[1]: no validator found at this index', '$[1]'],
      ['$[2]: no validator found at this index', '$[2]'],
    ],
  );
  assert.deepEqual(
    reports({ not: { type: 'string' } }, 'x')?.map((r) => r.message),
    ['$: should not be valid to the schema "not" : {"type":"string"}'],
  );
  assert.deepEqual(
    reports({ oneOf: [{ type: 'string' }, { minLength: 1 }] }, 'x')?.map((r) => r.message),
    [
      '$: should be valid to one and only one of schema, but more than one are valid: {"type":"string"}{"minLength":1}',
    ],
  );
  assert.deepEqual(
    reports({ anyOf: [{ type: 'string' }, { type: 'integer' }] }, 1.5)?.map((r) => r.message),
    [
      '$: should be valid to any of the schemas [{"type":"string"},{"type":"integer"}]',
      '$: number found, string expected',
      '$: number found, integer expected',
    ],
  );
});
