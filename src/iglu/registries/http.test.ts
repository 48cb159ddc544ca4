import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type TempSchemas, tempSchemas, tinySchema } from '../../../test/helpers/iglu-schemas.js';
import { startIgluServer } from '../../../test/helpers/iglu-server.js';
import { parseSchemaKey, type SchemaKey } from '../schema-key.js';
import { createHttpRegistry } from './http.js';

const key = (uri: string): SchemaKey => {
  const k = parseSchemaKey(uri);
  assert.ok(k.ok);
  return k.value;
};
const X = key('iglu:com.acme/x/jsonschema/1-0-0');
const base = { name: 'r', priority: 0, vendorPrefixes: [], retryDelayMs: 1 };
const APIKEY = 'a1b2c3d4-0000-4000-8000-000000000001';

let dir: TempSchemas;
before(async () => {
  dir = await tempSchemas();
  await dir.put('com.acme/x/jsonschema/1-0-0', tinySchema('com.acme', 'x', '1-0-0'));
  await dir.put('com.acme/notjson/jsonschema/1-0-0', '<html>');
});
after(() => dir.remove());

test('static layout: found and 404', async (t) => {
  const srv = await startIgluServer({ schemasRoot: dir.schemas });
  t.after(() => srv.close());
  const reg = createHttpRegistry({ ...base, uri: `${srv.uri}/` });
  assert.equal(reg.classPriority, 100);
  assert.deepEqual(await reg.lookup(X), { found: tinySchema('com.acme', 'x', '1-0-0') });
  assert.deepEqual(await reg.lookup(key('iglu:com.acme/y/jsonschema/1-0-0')), { notFound: true });
  assert.deepEqual(srv.requests, [
    'GET /schemas/com.acme/x/jsonschema/1-0-0',
    'GET /schemas/com.acme/y/jsonschema/1-0-0',
  ]);
  assert.deepEqual(srv.apikeys, [undefined, undefined]);
});

test('Iglu Server: /api path and apikey header', async (t) => {
  const srv = await startIgluServer({ schemasRoot: dir.schemas, apikey: APIKEY, mode: 'server' });
  t.after(() => srv.close());
  assert.deepEqual(await createHttpRegistry({ ...base, uri: srv.uri, apikey: APIKEY }).lookup(X), {
    found: tinySchema('com.acme', 'x', '1-0-0'),
  });
  assert.deepEqual(srv.requests, ['GET /api/schemas/com.acme/x/jsonschema/1-0-0']);
  assert.deepEqual(srv.apikeys, [APIKEY]);
  // Without the key a private schema is "not found", as Iglu Server answers.
  assert.deepEqual(await createHttpRegistry({ ...base, uri: srv.uri }).lookup(X), { notFound: true });
  // A malformed key is a 400: a definite failure, not retried.
  const r = await createHttpRegistry({ ...base, uri: srv.uri, apikey: 'nope' }).lookup(X);
  assert.ok('error' in r && !r.transient && r.attempts === 1);
  assert.match(r.error.message, /400.*Invalid UUID for ApiKey/);
});

test('5xx is retried, then reported as transient', async (t) => {
  const srv = await startIgluServer({ schemasRoot: dir.schemas });
  t.after(() => srv.close());
  srv.failWith(503);
  const r = await createHttpRegistry({ ...base, uri: srv.uri }).lookup(X);
  assert.ok('error' in r && r.transient && r.attempts === 3 && r.error.error === 'RepoFailure');
  assert.equal(srv.requests.length, 3);
  srv.failWith(null);
  assert.ok('found' in (await createHttpRegistry({ ...base, uri: srv.uri }).lookup(X)));
});

test('a 200 that is not JSON is a definite failure', async (t) => {
  const srv = await startIgluServer({ schemasRoot: dir.schemas });
  t.after(() => srv.close());
  const r = await createHttpRegistry({ ...base, uri: srv.uri }).lookup(
    key('iglu:com.acme/notjson/jsonschema/1-0-0'),
  );
  assert.ok('error' in r && !r.transient && r.attempts === 1);
});

test('connection refused and timeouts are transient', async () => {
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((ok) => closed.close(() => ok()));
  const refused = await createHttpRegistry({
    ...base,
    uri: `http://127.0.0.1:${port}`,
    maxAttempts: 2,
  }).lookup(X);
  assert.ok('error' in refused && refused.transient && refused.attempts === 2);
  assert.match(refused.error.message, /ECONNREFUSED/);

  const hang = createServer(() => {});
  await new Promise<void>((ok) => hang.listen(0, '127.0.0.1', ok));
  try {
    const uri = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
    const slow = await createHttpRegistry({ ...base, uri, timeoutMs: 50, maxAttempts: 1 }).lookup(X);
    assert.ok('error' in slow && slow.transient);
    assert.match(slow.error.message, /timed out after 50 ms/);
  } finally {
    hang.closeAllConnections();
    await new Promise<void>((ok) => hang.close(() => ok()));
  }
});

test('unsafe vendors are not requested', async (t) => {
  const srv = await startIgluServer({ schemasRoot: dir.schemas });
  t.after(() => srv.close());
  assert.deepEqual(
    await createHttpRegistry({ ...base, uri: srv.uri }).lookup(key('iglu:../x/jsonschema/1-0-0')),
    {
      notFound: true,
    },
  );
  assert.equal(srv.requests.length, 0);
});
