import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TempSchemas, tempSchemas, tinySchema } from '../../../test/helpers/iglu-schemas.js';
import { parseSchemaKey, type SchemaKey } from '../schema-key.js';
import { createDirectoryRegistry } from './directory.js';

const key = (uri: string): SchemaKey => {
  const k = parseSchemaKey(uri);
  assert.ok(k.ok);
  return k.value;
};

let dir: TempSchemas;
before(async () => {
  dir = await tempSchemas();
  await dir.put('com.acme/x/jsonschema/1-0-0', tinySchema('com.acme', 'x', '1-0-0'));
  await dir.put('com.acme/broken/jsonschema/1-0-0', '{ not json');
  await dir.put('com.acme/array/jsonschema/1-0-0', '[1]');
});
after(() => dir.remove());

test('reads <path>/schemas/<vendor>/<name>/<format>/<version>', async () => {
  const reg = createDirectoryRegistry({ name: 'local', priority: 0, vendorPrefixes: [], path: dir.root });
  assert.equal(reg.classPriority, 2);
  assert.deepEqual(await reg.lookup(key('iglu:com.acme/x/jsonschema/1-0-0')), {
    found: tinySchema('com.acme', 'x', '1-0-0'),
  });
  assert.deepEqual(await reg.lookup(key('iglu:com.acme/x/jsonschema/1-0-1')), { notFound: true });
  assert.deepEqual(await reg.lookup(key('iglu:com.other/x/jsonschema/1-0-0')), { notFound: true });
  // "." and ".." match the vendor regex but must not climb out of schemas/
  assert.deepEqual(await reg.lookup(key('iglu:../schemas/jsonschema/1-0-0')), { notFound: true });
});

test('unreadable documents are definite (non-transient) failures', async () => {
  const reg = createDirectoryRegistry({ name: 'local', priority: 0, vendorPrefixes: [], path: dir.root });
  for (const name of ['broken', 'array']) {
    const r = await reg.lookup(key(`iglu:com.acme/${name}/jsonschema/1-0-0`));
    assert.ok('error' in r && r.error.error === 'RepoFailure' && r.transient === false, name);
  }
});

test('a bare schemas/ folder works as the path too', async () => {
  const reg = createDirectoryRegistry({ name: 'local', priority: 0, vendorPrefixes: [], path: dir.schemas });
  assert.deepEqual(await reg.lookup(key('iglu:com.acme/x/jsonschema/1-0-0')), {
    found: tinySchema('com.acme', 'x', '1-0-0'),
  });
});

test('a missing root is NotFound, not a crash', async () => {
  const reg = createDirectoryRegistry({
    name: 'none',
    priority: 0,
    vendorPrefixes: [],
    path: '/nonexistent/furrow',
  });
  assert.deepEqual(await reg.lookup(key('iglu:com.acme/x/jsonschema/1-0-0')), { notFound: true });
});
