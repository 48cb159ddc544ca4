import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryRegistry } from './registries/memory.js';
import type { Registry, RegistryLookupResult } from './registries/registry.js';
import { createResolver } from './resolver.js';
import type { SchemaKey } from './schema-key.js';
import { formatSchemaKey } from './schema-key.js';
import type { CheckResult } from './types.js';
import { IgluSystemError } from './types.js';

const schema = (name: string, version: string, extra: Record<string, unknown> = {}) => ({
  self: { vendor: 'com.acme', name, format: 'jsonschema', version },
  type: 'object',
  properties: { a: { type: 'string' } },
  required: ['a'],
  additionalProperties: false,
  ...extra,
});

/** A registry that answers from a function and records what it was asked. */
function fake(
  name: string,
  answer: (key: SchemaKey) => RegistryLookupResult | Promise<RegistryLookupResult>,
  opts: { classPriority?: number; priority?: number; vendorPrefixes?: string[] } = {},
): Registry & { asked: string[] } {
  const asked: string[] = [];
  return {
    name,
    asked,
    classPriority: opts.classPriority ?? 100,
    priority: opts.priority ?? 0,
    vendorPrefixes: opts.vendorPrefixes ?? [],
    async lookup(key) {
      asked.push(formatSchemaKey(key));
      return answer(key);
    },
  };
}

const notFound = (): RegistryLookupResult => ({ notFound: true });
const unreachable = (): RegistryLookupResult => ({
  error: { error: 'RepoFailure', message: 'ECONNREFUSED' },
  transient: true,
  attempts: 3,
});
const X = 'iglu:com.acme/x/jsonschema/1-0-0';
const config = (extra: Record<string, unknown> = {}) => ({ cacheSize: 10, repositories: [], ...extra });

test('warm checks answer synchronously; cold ones with a promise', async () => {
  const mem = createMemoryRegistry({ name: 'mem', schemas: [schema('x', '1-0-0')] });
  const r = createResolver(config(), { extraRegistries: [mem] });
  const first = r.check(X, { a: 'ok' });
  assert.ok(first instanceof Promise);
  assert.deepEqual(await first, { ok: true });
  const second = r.check(X, { a: 'ok' });
  assert.ok(!(second instanceof Promise));
  assert.deepEqual(second, { ok: true });
  const bad = r.check(X, { b: 1 }) as CheckResult;
  assert.ok(!bad.ok && bad.error.error === 'ValidationError');
  assert.deepEqual(await r.lookupSchema(X), { ok: true, schema: schema('x', '1-0-0') });
});

test('lookup order: vendor prefix, then class, then priority', async () => {
  const order: string[] = [];
  const mk = (name: string, opts: Parameters<typeof fake>[2]) =>
    fake(
      name,
      () => {
        order.push(name);
        return notFound();
      },
      opts,
    );
  const regs = [
    mk('http-p5', { classPriority: 100, priority: 5 }),
    mk('http-p1', { classPriority: 100, priority: 1 }),
    mk('embedded-p9', { classPriority: 2, priority: 9 }),
    mk('http-prefixed', { classPriority: 100, priority: 50, vendorPrefixes: ['com.ac'] }),
    mk('memory', { classPriority: 1, priority: 100 }),
  ];
  const r = createResolver(config(), { extraRegistries: regs });
  const res = (await r.check(X, {})) as CheckResult;
  assert.deepEqual(order, ['http-prefixed', 'memory', 'embedded-p9', 'http-p1', 'http-p5']);
  assert.ok(!res.ok && res.error.error === 'ResolutionError');
  assert.deepEqual(
    res.error.lookupHistory.map((h) => h.repository),
    order,
  );
  order.length = 0;
  await r.check('iglu:org.other/x/jsonschema/1-0-0', {});
  assert.deepEqual(order, ['memory', 'embedded-p9', 'http-p1', 'http-p5', 'http-prefixed']);
});

test('concurrent checks of one key share a lookup', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((ok) => {
    release = ok;
  });
  const reg = fake('slow', async () => {
    await gate;
    return { found: schema('x', '1-0-0') };
  });
  const r = createResolver(config(), { extraRegistries: [reg] });
  const all = Promise.all([r.check(X, { a: '1' }), r.check(X, { a: 2 }), r.lookupSchema(X)]);
  release();
  const [a, b, c] = await all;
  assert.deepEqual(a, { ok: true });
  assert.equal((b as CheckResult).ok, false);
  assert.equal(c.ok, true);
  assert.deepEqual(reg.asked, [X]);
});

test('cache: hits and failures expire after cacheTtl; LRU bounded by cacheSize', async () => {
  let now = 1_000_000;
  let present = false;
  const reg = fake('r', () => (present ? { found: schema('x', '1-0-0') } : notFound()));
  const r = createResolver(config({ cacheTtl: 10 }), { extraRegistries: [reg], now: () => now });
  const miss = (await r.check(X, { a: '1' })) as CheckResult;
  assert.ok(!miss.ok && miss.error.error === 'ResolutionError');
  assert.deepEqual(miss.error.lookupHistory, [
    {
      repository: 'r',
      errors: [{ error: 'NotFound' }],
      attempts: 1,
      lastAttempt: new Date(now).toISOString(),
    },
  ]);
  present = true;
  now += 9_999;
  assert.deepEqual(r.check(X, { a: '1' }), miss); // negative result still cached, answered synchronously
  assert.equal(reg.asked.length, 1);
  now += 1;
  assert.deepEqual(await r.check(X, { a: '1' }), { ok: true });
  assert.equal(reg.asked.length, 2);
  assert.deepEqual(r.check(X, { a: '1' }), { ok: true });
  assert.equal(reg.asked.length, 2);

  const small = fake('s', (key) => ({ found: schema(key.name, '1-0-0') }));
  const r2 = createResolver(config({ cacheSize: 1 }), { extraRegistries: [small] });
  const Y = 'iglu:com.acme/y/jsonschema/1-0-0';
  await r2.check(X, { a: '' });
  await r2.check(Y, { a: '' });
  await r2.check(X, { a: '' });
  assert.deepEqual(small.asked, [X, Y, X]);
  r2.clearCache();
  await r2.check(X, { a: '' });
  assert.equal(small.asked.length, 4);
});

test('cacheSize 0 disables caching', async () => {
  const reg = fake('r', () => ({ found: schema('x', '1-0-0') }));
  const r = createResolver(config({ cacheSize: 0 }), { extraRegistries: [reg] });
  assert.deepEqual(await r.check(X, { a: '' }), { ok: true });
  assert.ok(r.check(X, { a: '' }) instanceof Promise);
});

test('only unreachable registries → IgluSystemError (not cached); any NotFound → ResolutionError', async () => {
  const down = fake('down', unreachable);
  const r = createResolver(config(), { extraRegistries: [down] });
  await assert.rejects(async () => r.check(X, {}), IgluSystemError);
  await assert.rejects(async () => r.lookupSchema(X), IgluSystemError);
  assert.equal(down.asked.length, 2);

  const mixed = createResolver(config(), {
    extraRegistries: [fake('down', unreachable), fake('up', notFound)],
  });
  const res = (await mixed.check(X, {})) as CheckResult;
  assert.ok(!res.ok && res.error.error === 'ResolutionError');
  assert.deepEqual(
    res.error.lookupHistory.map(({ repository, errors, attempts }) => ({ repository, errors, attempts })),
    [
      { repository: 'down', errors: [{ error: 'RepoFailure', message: 'ECONNREFUSED' }], attempts: 3 },
      { repository: 'up', errors: [{ error: 'NotFound' }], attempts: 1 },
    ],
  );
});

test('a registry that throws is recorded, not propagated', async () => {
  const broken = fake('broken', () => {
    throw new Error('bug');
  });
  const r = createResolver(config(), { extraRegistries: [broken, fake('ok', notFound)] });
  const res = (await r.check(X, {})) as CheckResult;
  assert.ok(!res.ok && res.error.error === 'ResolutionError');
  assert.deepEqual(res.error.lookupHistory[0].errors, [{ error: 'ClientFailure', message: 'bug' }]);
});

test('superseding: validates with $supersededBy and says so', async () => {
  const mem = createMemoryRegistry({
    name: 'mem',
    schemas: [
      schema('x', '1-0-0', { $supersededBy: '1-0-2' }),
      schema('x', '1-0-2', { properties: { a: { type: 'string' }, b: { type: 'integer' } } }),
      schema('y', '1-0-0', { $supersededBy: '1-0-0' }),
      schema('z', '1-0-0', { $supersededBy: '1-0-1' }),
    ],
  });
  const r = createResolver(config(), { extraRegistries: [mem] });
  assert.deepEqual(await r.check(X, { a: 'x', b: 1 }), { ok: true, supersededBy: '1-0-2' });
  assert.deepEqual(r.check(X, { a: 'x', b: 2 }), { ok: true, supersededBy: '1-0-2' });
  const bad = r.check(X, { a: 'x', b: 'no' }) as CheckResult;
  assert.ok(!bad.ok && bad.error.error === 'ValidationError');
  assert.equal(bad.error.dataReports[0].message, '$.b: string found, integer expected');
  const loop = (await r.check('iglu:com.acme/y/jsonschema/1-0-0', { a: '' })) as CheckResult;
  assert.ok(!loop.ok && loop.error.error === 'InvalidSchema');
  const missing = (await r.check('iglu:com.acme/z/jsonschema/1-0-0', { a: '' })) as CheckResult;
  assert.ok(!missing.ok && missing.error.error === 'ResolutionError');
});

test('an invalid schema document is an InvalidSchema result', async () => {
  const mem = createMemoryRegistry({ name: 'mem', schemas: [schema('x', '1-0-0', { type: 'strang' })] });
  const r = createResolver(config(), { extraRegistries: [mem] });
  const res = (await r.check(X, {})) as CheckResult;
  assert.ok(!res.ok && res.error.error === 'InvalidSchema');
  assert.equal(res.error.invalidSchema, X);
});

test('a malformed URI is a programming error', async () => {
  const r = createResolver(config());
  await assert.rejects(async () => r.check('iglu:nope', {}), TypeError);
});
